"""Simulated RS-485 buses on pseudo-terminals: the gateway's real serial code on one
end, meter simulators on the other."""

from collections.abc import Iterator
from typing import Any

import pytest

from contract.meters import MeterConfig
from edge.meters.health import MeterHealth
from firmware_mocks.meters.pty_bus import PtyBus

ENERGY = {"voltage_v": 230.1, "power_w": 512.5, "energy_kwh": 12345.67}
WATER = {"volume_m3": 321.456, "flow_m3h": 0.3}


@pytest.fixture
def modbus_bus() -> Iterator[PtyBus]:
    with PtyBus("modbus", late_s=0.8) as bus:
        yield bus


@pytest.fixture
def dlt645_bus() -> Iterator[PtyBus]:
    with PtyBus("dlt645", late_s=0.8) as bus:
        yield bus


def config(port: str, **overrides: Any) -> MeterConfig:
    values: dict[str, Any] = {
        "id": "m-1",
        "flat": "f-1",
        "port": port,
        "protocol": "modbus",
        "address": 1,
        "profile": "sdm120",
        "parity": "N",  # ptys refuse even parity
        "timeout_s": 0.5,
        "retries": 2,
        "poll_interval_s": 1.0,
    }
    values.update(overrides)
    return MeterConfig(**values)


def health(meter: MeterConfig) -> MeterHealth:
    return MeterHealth(meter.id, meter.flat, "gw-01", meter.offline_after_s, started_at=0.0)
