"""A real gateway process under a stand-in for systemd: readiness, keep-alives, status."""

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware_mocks.air import Air
from silverguard.servers.process import ChildProcess, free_port
from silverguard.sim.settings_files import write_toml


@pytest.fixture
async def air() -> AsyncIterator[Air]:
    a = Air()
    await a.start()
    yield a
    await a.close()


async def datagrams(sock: socket.socket, until: str, timeout: float = 60.0) -> list[str]:
    """Every notification received until one carries the ``until`` line."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            message = (await loop.sock_recv(sock, 4096)).decode()
            seen.append(message)
            if until in message.split("\n"):
                return seen


def status(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "silverguard.cli", "gateway", "status", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_gateway_says_ready_keeps_the_watchdog_fed_and_says_stopping(
    tmp_path: Path, air: Air
):
    config = tmp_path / "gateway.toml"
    write_toml(
        config,
        {
            "gateway_id": "gw-01",
            "data_dir": str(tmp_path / "data"),
            "status_interval_s": 0.5,
            # Nobody listens there: the uplink is down, which must not starve the watchdog.
            "mqtt": {"host": "127.0.0.1", "port": free_port(), "backoff_max_s": 1.0},
            "radio": {"backend": "simulated", "air": air.address},
        },
    )
    name = f"silverguard-notify-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.setblocking(False)
    gateway = ChildProcess(
        "gateway",
        [sys.executable, "-m", "silverguard.cli", "gateway", "run", "--config", str(config)],
        tmp_path / "gateway.log",
        env={"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "1000000"},
    )
    gateway.start()
    try:
        ready = await datagrams(sock, "READY=1")
        assert "STATUS=uplink" in ready[-1]
        alive = await datagrams(sock, "WATCHDOG=1")
        alive += await datagrams(sock, "WATCHDOG=1")  # and again, half a period later
        assert any("STATUS=uplink down" in m or "STATUS=uplink connecting" in m for m in alive)

        shown = await asyncio.to_thread(status, config)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "running" in shown.stdout
        assert "watchdog 看门狗     healthy (systemd watchdog on)" in shown.stdout

        gateway.signal(15)
        await datagrams(sock, "STOPPING=1")
    finally:
        gateway.stop()
        sock.close()
    shown = await asyncio.to_thread(status, config)
    assert shown.returncode == 3
    assert "NOT RUNNING" in shown.stdout
