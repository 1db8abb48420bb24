"""`silverguard sim district` as a user runs it: a shortened ledger on the real stack
must have no miss; Ctrl-C leaves no process behind; a bad district file is named by
line and field before anything starts."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from tests.waiting import wait_until

FAILING = ("missed", "duplicated", "wrong_recipient", "late")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "silverguard.cli", *args]


def _ours(workdir: str) -> list[str]:
    """Processes still running with the run's work directory on their command line."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if workdir in cmdline and process.pid != os.getpid():
            found.append(f"{process.pid}: {cmdline[:120]}")
    return found


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_a_shortened_ledger_has_no_miss(tmp_path: Path):
    """80 residents over 76 communities and 12 gateways, 06:00 to about 15:40 of
    simulated time: falls, cancelled falls, SOS, a caregiver who never acknowledges,
    missed and taken doses, inactivity and a gateway offline, each checked."""
    done = subprocess.run(
        _command(
            "sim", "district", "--residents", "80", "--days", "0.4", "--speed", "300", "--json"
        ),
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line; stderr:\n{done.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert {k: result[k] for k in FAILING} == dict.fromkeys(FAILING, 0), done.stderr[-3000:]
    assert done.returncode == 0
    assert result["incidents"] >= 8
    assert result["matched"] == result["incidents"]
    assert result["resident_days"] == pytest.approx(32.0)
    for key in ("unexpected_alerts", "wall_s", "peak_rss_mb", "cpu_s"):
        assert key in result
    # The closed loop: people went, the fleet measured when they got there, and the
    # residents scripted to drift carry the tag by the day expected.
    assert result["on_site_checkins"] >= 1
    assert result["on_site_measured"] >= result["on_site_checkins"]
    assert 3 <= result["on_site_p50_min"] <= 40
    assert 0 < result["on_site_within_15_min"] <= 1
    assert result["risk_tags_expected"] >= 1
    assert result["risk_tags_found"] == result["risk_tags_expected"]


@pytest.mark.e2e
@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("argv", "ready", "workdir_line"),
    [
        (
            ("sim", "district", "--residents", "12", "--days", "1", "--speed", "60"),
            "simulated time",
            r"fleet in (\S+)",
        ),
        (("demo", "--bands", "6", "--gateways", "2"), "gateways running", r"work directory: (\S+)"),
    ],
    ids=["sim-district", "demo"],
)
def test_ctrl_c_leaves_no_process_behind(argv: tuple[str, ...], ready: str, workdir_line: str):
    process = subprocess.Popen(
        _command(*argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        wait_until(lambda: any(ready in line for line in output), 150, f"{argv[0]} running")
        workdir = next(m[1] for line in output if (m := re.search(workdir_line, line)))
        assert _ours(workdir), "the servers should be running now"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) in (0, 130)
        wait_until(lambda: not _ours(workdir), 10, "every process of the run gone")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        reader.join(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]


def test_a_bad_district_file_names_line_and_field(tmp_path: Path):
    bad = tmp_path / "district.csv"
    bad.write_text(
        "town_id,town_name,community_id,community_name,grids,residents,gateways\n"
        "t-a,甲镇,c-a,甲社区,1,10,gw-01\n"
        "t-a,甲镇,c-b,乙社区,1,ten,gw-01\n"
    )
    done = subprocess.run(
        _command("sim", "district", "--district", str(bad)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "line 3, field residents" in done.stderr
    assert "'ten' is not a whole number" in done.stderr
