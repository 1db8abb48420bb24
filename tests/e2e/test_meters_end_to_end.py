"""Meter readings and a utility event travel from a serial bus to InfluxDB and the fleet.

The gateway process opens the slave end of a pty; the meters live on the master end in
this process. Mosquitto, InfluxDB and the fleet are the real servers.
"""

import asyncio
import time
from typing import Any

import pytest

from firmware_mocks.meters.modbus_slave import ModbusMeter, water_registers
from firmware_mocks.meters.pty_bus import PtyBus
from silverguard.sim.stack import Stack

pytestmark = pytest.mark.e2e

ENERGY = {"voltage_v": 230.1, "power_w": 512.5, "energy_kwh": 12345.67}


async def eventually(check: Any, timeout: float = 40.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


async def test_meter_readings_reach_influxdb_and_a_running_tap_reaches_the_fleet(stack: Stack):
    opened = time.time()

    def running_tap() -> dict[str, float]:
        # A tap left open since the test began: 0.3 m3/h, 5 litres a minute.
        return {"volume_m3": 321.0 + 0.3 * (time.time() - opened) / 3600, "flow_m3h": 0.3}

    with PtyBus("modbus") as bus:
        bus.add(ModbusMeter(1, lambda: ENERGY))
        bus.add(ModbusMeter(2, running_tap, water_registers))
        line = {"port": bus.port, "protocol": "modbus", "parity": "N", "poll_interval_s": 0.5}
        await stack.start_gateway(
            "gw-01",
            meters=[
                {"id": "m-0001-e", "flat": "f-0001", "address": 1, "profile": "sdm120", **line},
                {"id": "m-0001-w", "flat": "f-0001", "address": 2, "profile": "water", **line},
            ],
            routine={"water_running_s": 4.0},  # a minute-scale test of an hour-scale rule
        )

        async def last(field: str, device: str) -> Any:
            result = await stack.influx_query(
                f"SELECT last({field}) FROM meter WHERE device = '{device}'"
            )
            series = result["results"][0].get("series")
            return series[0]["values"][0][1] if series else None

        assert await eventually(lambda: last("energy_kwh", "m-0001-e"), what="energy") == 12345.67
        assert await last("power_w", "m-0001-e") == 512.5
        volume = await eventually(lambda: last("volume_m3", "m-0001-w"), what="water volume")
        assert volume >= 321.0

        api = stack.api
        assert api is not None

        async def running_alerts() -> list[dict[str, Any]]:
            alerts = (await api.get("/api/v1/alerts")).json()
            return [a for a in alerts if a["kind"] == "water_running"]

        (alert,) = await eventually(running_alerts, what="the water_running alert")
        assert alert["device"] == "m-0001-w"
        assert alert["severity"] == "high"
