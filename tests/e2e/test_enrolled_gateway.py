"""A gateway enrolled through the fleet runs on the credentials the fleet made for it,
and an SOS from a band registered through the API reaches the caregiver."""

import asyncio
import contextlib
import json
from typing import Any

import pytest

from contract.sealing import unseal
from firmware_mocks.population import Population
from firmware_mocks.wristband import Button
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import Stack
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_enrolled_gateway_carries_an_sos_to_the_caregiver(stack: Stack, receiver: Receiver):
    population = Population.generate(
        stack.air, 2, area_m=(4.0, 4.0), interval_s=0.5, routines=False
    )
    band = population.bands[0].band
    await stack.register_population(population, {band.mac: [receiver.url("caregiver")]})
    enrolled = await stack.enroll_gateway("gw-01")
    assert enrolled.gateway_id == "gw-01"
    data_dir = stack.gateway_dir("gw-01") / "data"
    identity = json.loads((data_dir / "enrollment.json").read_text())
    first = json.loads((data_dir / "config.json").read_text())
    # Both bands are in the gateway's community: their keys arrive sealed to it alone.
    keys = {b["mac"]: unseal(identity["private_key"], b["sealed_key"]) for b in first["bands"]}
    assert keys == {sim.band.mac: sim.band.bind_key for sim in population.bands}

    await stack.start_gateway("gw-01")
    advertising = asyncio.create_task(population.run())
    assert stack.api is not None
    try:
        population.press(band.mac, Button.LONG)
        (notification,) = await asyncio.to_thread(
            receiver.wait_for, 1, path="caregiver", timeout=30
        )
        assert "SOS" in notification.body["title"]
        alerts = (await stack.api.get("/api/v1/alerts")).json()
        assert [a["device"] for a in alerts] == [band.mac]
        api = stack.api

        async def published() -> Any:
            gateway = (await api.get("/api/v1/gateways/gw-01")).json()
            return gateway if gateway["published_version"] == gateway["desired_version"] else None

        gateway = await eventually(published, 20, "the config published")
        assert gateway["state"] == "enrolled"
    finally:
        advertising.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await advertising
