"""A fall while the broker is unreachable: detected and kept on the gateway, delivered
(one alert) once the broker is back."""

import asyncio
import contextlib
import time

import pytest

from firmware_mocks.population import Population
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import Stack
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

# A short confirmation window keeps the test quick; the rule is the same.
WINDOW_S = 3.0


async def test_a_fall_during_a_broker_outage_is_delivered_once_it_returns(
    stack: Stack, receiver: Receiver
):
    population = Population.generate(
        stack.air, 1, homes=[(2.0, 0.0)], interval_s=0.5, routines=False
    )
    band = population.bands[0].band
    await stack.register_population(
        population, {band.mac: [receiver.url("caregiver")]}, locale="en"
    )
    await stack.start_gateway("gw-01", rules={"fall": {"confirm_window_s": WINDOW_S}})
    gateway_log = stack.gateway_dir("gw-01") / "gateway.log"
    advertising = asyncio.create_task(population.run())
    api = stack.api
    assert api is not None
    try:

        async def band_heard() -> bool:
            result = await stack.influx_query(
                f"SELECT last(battery) FROM wristband WHERE device = '{band.mac}'"
            )
            return bool(result["results"][0].get("series"))

        await eventually(band_heard, what="the band's telemetry through the broker")

        await asyncio.to_thread(stack.mosquitto.stop)
        population.fall(band.mac)
        fell_at = time.monotonic()

        async def fall_stored() -> bool:
            log = gateway_log.read_text(errors="replace")
            return "event fall " in log and "stored for upload" in log.split("event fall ", 1)[1]

        # Detected and stored on the gateway after the confirmation window, broker or not.
        await eventually(fall_stored, timeout=WINDOW_S + 20, what="the fall in the outbox")
        assert time.monotonic() - fell_at >= WINDOW_S - 0.5
        assert receiver.delivered("caregiver") == []  # the broker is down: nothing has left
        assert (await api.get("/api/v1/alerts")).json() == []

        await asyncio.to_thread(stack.mosquitto.start)
        (notification,) = await asyncio.to_thread(
            receiver.wait_for, 1, path="caregiver", timeout=60
        )
        assert "fall" in notification.body["title"].lower()

        alerts = (await api.get("/api/v1/alerts")).json()
        assert [(a["kind"], a["device"]) for a in alerts] == [("fall", band.mac)]
        # The gateway resends until the fleet acknowledges; once its outbox is empty no
        # copy is left to send, and there is still one alert and one notification.
        await eventually(
            lambda: _async(stack.gateway_status("gw-01").backlog["event"].count == 0),  # type: ignore[index]
            30,
            "the fleet's acknowledgement to empty the outbox",
        )
        assert len((await api.get("/api/v1/alerts")).json()) == 1
        assert len(receiver.delivered("caregiver")) == 1
    finally:
        advertising.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await advertising


async def _async(value: bool) -> bool:
    return value
