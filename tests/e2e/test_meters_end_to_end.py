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
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import Stack
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

ENERGY = {"voltage_v": 230.1, "power_w": 512.5, "energy_kwh": 12345.67}


async def test_meter_readings_reach_influxdb_and_a_running_tap_reaches_the_fleet(
    stack: Stack, receiver: Receiver
):
    opened = time.time()
    api = stack.api
    assert api is not None
    # The flat's resident and their caregiver, so the meter's alert reaches a person.
    await stack.ensure_place()
    for path, body in (
        (
            "/api/v1/caregivers",
            {"id": "c-flat1", "display_name": "照护人", "channels": [receiver.url("flat1")]},
        ),
        (
            "/api/v1/residents",
            {
                "id": "r-flat1",
                "display_name": "居民",
                "community_id": stack.community_id,
                "flat": "f-0001",
                "caregivers": ["c-flat1"],
            },
        ),
    ):
        response = await api.post(path, json=body)
        assert response.status_code == 201, response.text

    def running_tap() -> dict[str, float]:
        # A tap left open since the test began: 0.3 m3/h, 5 litres a minute.
        return {"volume_m3": 321.0 + 0.3 * (time.time() - opened) / 3600, "flow_m3h": 0.3}

    with PtyBus("modbus") as bus:
        bus.add(ModbusMeter(1, lambda: ENERGY))
        bus.add(ModbusMeter(2, running_tap, water_registers))
        line = {"port": bus.port, "protocol": "modbus", "parity": "N", "poll_interval_s": 0.5}
        meters = [
            {"id": "m-0001-e", "flat": "f-0001", "address": "1", "profile": "sdm120", **line},
            {"id": "m-0001-w", "flat": "f-0001", "address": "2", "profile": "water", **line},
        ]
        # Registered in the fleet (it accepts readings only for meters it knows, from a
        # gateway of their community); declared in the gateway's own file as well.
        for meter in meters:
            body = {**meter, "gateway_id": "gw-01", "community_id": stack.community_id}
            response = await api.post("/api/v1/meters", json=body)
            assert response.status_code == 201, response.text
        await stack.start_gateway(
            "gw-01",
            meters=meters,
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

        async def running_alerts() -> list[dict[str, Any]]:
            alerts = (await api.get("/api/v1/alerts")).json()
            return [a for a in alerts if a["kind"] == "water_running"]

        (alert,) = await eventually(running_alerts, what="the water_running alert")
        assert alert["device"] == "m-0001-w"
        assert alert["severity"] == "high"
        # Linked to the flat's resident through the meter's flat, and their caregiver called.
        assert alert["resident_id"] == "r-flat1"
        (message,) = await asyncio.to_thread(receiver.wait_for, 1, path="flat1", timeout=30)
        assert message.body["title"]


async def test_meters_registered_in_the_fleet_are_polled_by_the_running_gateway(stack: Stack):
    """The meters section of the pushed config: registered through the API, applied by a
    running gateway without a restart, read over the serial line into InfluxDB; a meter
    on a port the gateway lacks is set aside and shown on the gateway."""
    api = stack.api
    assert api is not None
    await stack.ensure_place()
    response = await api.post(
        "/api/v1/residents",
        json={
            "id": "r-flat2",
            "display_name": "居民",
            "community_id": stack.community_id,
            "flat": "f-0002",
        },
    )
    assert response.status_code == 201, response.text
    await stack.enroll_gateway("gw-01")

    with PtyBus("modbus") as bus:
        bus.add(ModbusMeter(1, lambda: ENERGY))
        await stack.start_gateway("gw-01")
        line = {"protocol": "modbus", "parity": "N", "poll_interval_s": 0.5}
        for body in (
            {"id": "m-0002-e", "address": "1", "profile": "sdm120", "port": bus.port},
            {"id": "m-0002-w", "address": "2", "profile": "water", "port": "/dev/ttyNOPE"},
        ):
            response = await api.post(
                "/api/v1/meters",
                json={
                    **body,
                    **line,
                    "flat": "f-0002",
                    "gateway_id": "gw-01",
                    "community_id": stack.community_id,
                },
            )
            assert response.status_code == 201, response.text

        async def energy() -> Any:
            result = await stack.influx_query(
                "SELECT last(energy_kwh) FROM meter WHERE device = 'm-0002-e'"
            )
            series = result["results"][0].get("series")
            return series[0]["values"][0][1] if series else None

        assert await eventually(energy, what="the pushed meter's reading") == 12345.67

        async def set_aside() -> Any:
            gateway = (await api.get("/api/v1/gateways/gw-01")).json()
            return gateway["config_in_sync"] and gateway["reported_set_aside"]

        (part,) = await eventually(set_aside, what="the set-aside meter on the gateway")
        assert part["name"] == "m-0002-w"
        assert "/dev/ttyNOPE does not exist" in part["reason"]
