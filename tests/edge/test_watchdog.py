"""sd_notify against a real Unix datagram socket, as systemd would listen on it."""

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.watchdog import Liveness, SystemdNotifier, keep_alive


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_and_status_arrive_as_one_datagram(systemd: socket.socket, tmp_path: Path):
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    assert notifier.notify("READY=1", "STATUS=uplink connected")
    assert received(systemd) == ["READY=1", "STATUS=uplink connected"]


def test_the_abstract_namespace_is_understood():
    name = f"silverguard-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).notify("WATCHDOG=1")
        assert sock.recv(100) == b"WATCHDOG=1"


def test_outside_systemd_nothing_is_sent_and_nothing_fails():
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert not notifier.notify("READY=1")
    assert notifier.watchdog_s is None


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path):
    assert not SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).notify("READY=1")


def test_the_watchdog_period_is_read_for_this_process_only():
    mine = SystemdNotifier({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_s == 20.0
    parents = SystemdNotifier({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"})
    assert parents.watchdog_s is None


def test_liveness_names_the_loop_that_stopped_beating():
    clock = Clock()
    liveness = Liveness(clock)
    liveness.expect("tick", 10)
    liveness.expect("status", 10)
    clock.t += 8
    liveness.beat("tick")
    assert liveness.stale() == []
    clock.t += 5
    assert liveness.stale() == ["status"]


async def test_keep_alives_stop_while_unhealthy_and_resume_after(
    systemd: socket.socket, tmp_path: Path
):
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    clock = Clock()
    liveness = Liveness(clock)
    liveness.expect("tick", 10)
    broken: list[str] = []

    def probe() -> None:
        if broken:
            raise OSError(broken[0])

    task = asyncio.create_task(
        keep_alive(notifier, liveness, probe=probe, status=lambda: "all fine", interval_s=0.01)
    )
    loop = asyncio.get_running_loop()
    try:
        assert await loop.run_in_executor(None, received, systemd) == [
            "WATCHDOG=1",
            "STATUS=all fine",
        ]
        clock.t += 30  # the tick loop is stuck
        while (await loop.run_in_executor(None, received, systemd))[0] == "WATCHDOG=1":
            pass
        message = await loop.run_in_executor(None, received, systemd)
        assert message == ["STATUS=unhealthy: tick"]
        liveness.beat("tick")
        broken.append("disk I/O error")  # now the outbox fails instead
        while (await loop.run_in_executor(None, received, systemd)) != [
            "STATUS=unhealthy: outbox: disk I/O error"
        ]:
            pass
        broken.clear()
        while (await loop.run_in_executor(None, received, systemd))[0] != "WATCHDOG=1":
            pass
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
