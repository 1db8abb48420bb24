"""The local status: the file the gateway writes, the report and the command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec

from edge.outbox import Outbox
from edge.status import read_gateway_status, render
from edge.status_file import StatusFile, write_status


def status(**overrides: object) -> StatusFile:
    values: dict[str, object] = {
        "gateway": "gw-07",
        "pid": os.getpid(),
        "written_at": 1_000_000.0,
        "interval_s": 5.0,
        "uplink": {
            "state": "down",
            "since": 999_000.0,
            "broker": "fleet.example.org:8883",
            "tls": True,
            "last_connected": 998_000.0,
            "last_heartbeat": 998_990.0,
            "last_error": "[Errno 111] Connection refused",
            "backoff_s": 30.0,
            "reconnects": 12,
        },
        "version": "0.1.0",
        "started_at": 990_000.0,
        "config": {"version": 4, "rejected_version": 5, "error": "bands[0].mac: bad"},
        "radio": {"adverts_seen": 500, "adverts_per_s": 9.5, "rejects": {"replay": 2}},
        "watchdog": {"systemd": True, "healthy": True, "stale": []},
        "sms": {"port": "/dev/ttyUSB2", "sent": 2, "failed": 1, "offline_after_s": 300},
    }
    values.update(overrides)
    return msgspec.convert(values, StatusFile)


def data_dir_with_backlog(tmp_path: Path) -> Path:
    box = Outbox(tmp_path / "outbox.db")
    box.put_event("ev-1", "t", b"x" * 100, now=999_700.0)
    box.put_event("ev-2", "t", b"x" * 100, now=999_900.0)
    box.put_telemetry("t", b"y" * 50, now=999_990.0)
    box.close()
    return tmp_path


def test_a_running_gateway_shows_uplink_backlog_config_and_counters(tmp_path: Path):
    data = data_dir_with_backlog(tmp_path)
    write_status(data, status())
    report = read_gateway_status(data, now=1_000_002.0)
    assert report.running
    assert report.backlog is not None
    assert report.backlog["event"].count == 2
    assert report.backlog["event"].oldest_age_s(1_000_002.0) == 302.0
    text = render(report, now=1_000_002.0)
    assert "running" in text
    assert "down since" in text
    assert "Connection refused" in text
    assert "events 事件 2, oldest 5 min" in text
    assert "version 4 running; version 5 REJECTED: bands[0].mac: bad" in text
    assert "replay 2" in text
    assert "2 sent, 1 failed" in text


def test_a_stale_status_file_means_not_running(tmp_path: Path):
    data = data_dir_with_backlog(tmp_path)
    write_status(data, status())
    report = read_gateway_status(data, now=1_000_000.0 + 60)
    assert not report.running
    assert "NOT RUNNING" in render(report, now=1_000_060.0)
    assert report.backlog is not None  # the backlog is still read from the outbox


def test_the_command_prints_and_exits_by_state(tmp_path: Path):
    data = data_dir_with_backlog(tmp_path)
    write_status(data, status(written_at=10.0))  # long ago: not running
    run = [sys.executable, "-m", "silverguard.cli", "gateway", "status"]
    shown = subprocess.run(
        [*run, "--data-dir", str(data)], capture_output=True, text=True, timeout=60, check=False
    )
    assert shown.returncode == 3
    assert "gw-07" in shown.stdout
    config = tmp_path / "gateway.toml"
    config.write_text(f'data_dir = "{data}"\n')
    as_json = subprocess.run(
        [*run, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(as_json.stdout)
    assert report["running"] is False
    assert report["outbox"]["event"]["count"] == 2
    assert report["outbox"]["telemetry"]["count"] == 1
