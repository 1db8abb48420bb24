"""Private servers survive a port taken between our probe and their bind."""

import socket
import subprocess
import sys
from pathlib import Path

from silverguard.servers.influxdb import InfluxServer
from silverguard.servers.mosquitto import MosquittoServer
from silverguard.servers.process import port_open


def _occupied() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def test_influxdb_moves_to_another_port_when_its_port_was_taken(tmp_path: Path):
    sock, taken = _occupied()
    server = InfluxServer(tmp_path / "influx")
    server.port = taken  # as if another process bound it after our probe
    try:
        server.start()
        assert server.port != taken
        assert port_open(server.port)
    finally:
        server.stop()
        sock.close()


def test_mosquitto_moves_to_another_port_when_its_port_was_taken(tmp_path: Path):
    sock, taken = _occupied()
    server = MosquittoServer(tmp_path / "mq")
    server.port = taken
    try:
        server.start()
        assert server.port != taken
        assert port_open(server.port)
        # A restart keeps the port it now has: clients know it.
        before = server.port
        server.restart()
        assert server.port == before
    finally:
        server.stop()
        sock.close()


def test_the_fleet_refuses_a_taken_port_at_once_with_a_clear_message(tmp_path: Path):

    sock, taken = _occupied()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "silverguard.cli",
                "fleet",
                "serve",
                "--port",
                str(taken),
                "--data-dir",
                str(tmp_path / "fleet"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        sock.close()
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken}" in result.stderr
    assert "choose another --port" in result.stderr
