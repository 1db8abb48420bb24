"""The gateway's systemd unit: valid for systemd, and wired for the watchdog."""

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[2] / "docker" / "systemd" / "silverguard-gateway.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser["Service"]


def test_the_unit_waits_for_ready_and_restarts_on_a_missed_keep_alive():
    s = service()
    assert s["Type"] == "notify"
    assert int(s["WatchdogSec"]) > 0
    assert s["Restart"] == "always"
    assert s["ExecStart"].endswith("silverguard gateway run --config /etc/silverguard/gateway.toml")
    assert "dialout" in s["SupplementaryGroups"]  # the modem's serial port


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_every_line_of_the_unit(tmp_path: Path):
    # The unit names the installed path; point it at this checkout's command instead.
    command = Path(sys.executable).parent / "silverguard"
    unit = tmp_path / UNIT.name
    unit.write_text(
        UNIT.read_text().replace("/opt/silverguard/.venv/bin/silverguard", str(command))
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Unknown or misspelt keys are only warnings (exit 0): any output is a failure here.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
