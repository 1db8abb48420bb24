"""``silverguard meters read`` as a site engineer runs it, against simulated meters on a pty."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_mocks.meters.dlt645_slave import Dlt645Meter
from firmware_mocks.meters.modbus_slave import ModbusMeter, water_registers
from firmware_mocks.meters.pty_bus import PtyBus

ENERGY = {"voltage_v": 230.1, "power_w": 512.5, "energy_kwh": 12345.67}


def meters_read(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "silverguard.cli", "meters", "read", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def modbus() -> Iterator[PtyBus]:
    with PtyBus("modbus") as bus:
        bus.add(ModbusMeter(1, lambda: ENERGY))
        bus.add(ModbusMeter(2, lambda: {"volume_m3": 321.456, "flow_m3h": 0.3}, water_registers))
        yield bus


@pytest.fixture(scope="module")
def dlt() -> Iterator[PtyBus]:
    with PtyBus("dlt645") as bus:
        bus.add(Dlt645Meter("000012345678", lambda: ENERGY))
        yield bus


def test_an_energy_meter_prints_one_json_object(modbus: PtyBus):
    result = meters_read("--port", modbus.port, "--protocol", "modbus", "--address", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ENERGY


def test_a_water_meter_prints_its_volume(modbus: PtyBus):
    result = meters_read(
        "--port", modbus.port, "--protocol", "modbus", "--address", "2", "--profile", "water"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"volume_m3": 321.456, "flow_m3h": 0.3}


def test_a_dlt645_meter_by_the_number_printed_on_it(dlt: PtyBus):
    # The pty cannot do the 8E1 a real DL/T 645 meter uses; --parity N for the test.
    result = meters_read(
        "--port", dlt.port, "--protocol", "dlt645", "--address", "000012345678", "--parity", "N"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ENERGY


def test_the_wildcard_address_tells_the_engineer_the_meters_number(dlt: PtyBus):
    result = meters_read(
        "--port", dlt.port, "--protocol", "dlt645", "--address", "AAAAAAAAAAAA", "--parity", "N"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"address": "000012345678", **ENERGY}


def test_a_meter_that_does_not_answer_is_a_clear_error_and_a_failing_exit(modbus: PtyBus):
    result = meters_read(
        "--port", modbus.port, "--protocol", "modbus", "--address", "9", "--timeout", "0.2"
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "did not answer: check wiring, address, baud (9600) and parity (N)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--protocol", "dlt645", "--address", "12345"], 2, "12-digit number printed on the meter"),
        (
            ["--protocol", "modbus", "--address", "1", "--profile", "abc"],
            2,
            "unknown profile 'abc'",
        ),
        (["--protocol", "modbus", "--address", "1"], 1, "cannot open"),
    ],
)
def test_bad_arguments_and_a_missing_port_are_explained(
    tmp_path: Path, args: list[str], code: int, message: str
):
    result = meters_read("--port", str(tmp_path / "ttyUSB0"), *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
