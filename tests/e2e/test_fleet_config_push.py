"""The fleet's config push reaches a gateway enrolled through the fleet: the gateway
learns its bands' keys and the caregivers' numbers only from it, reports the version
back, and texts a caregiver's phone from its own modem while the broker is down."""

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from firmware_mocks.modem import ModemEmulator
from firmware_mocks.population import Population
from firmware_mocks.wristband import Button
from silverguard.sim.stack import GatewaySpec, Stack
from tests.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

PHONE = "+8613700137000"


async def test_fleet_pushed_keys_and_numbers_drive_the_gateway(tmp_path: Path):
    stack = Stack(
        tmp_path / "stack",
        [GatewaySpec("gw-01", (0.0, 0.0))],
        telemetry_interval_s=1.0,
        event_resend_s=2.0,
        backoff_max_s=2.0,
        bands_in_settings=False,  # keys come from the fleet's config or not at all
    )
    with ModemEmulator() as modem:
        await stack.start()
        advertising: asyncio.Task[None] | None = None
        try:
            api = stack.api
            assert api is not None
            # At home whatever the hour: a press out of range would go unheard.
            population = Population.generate(
                stack.air, 2, area_m=(4.0, 4.0), interval_s=0.5, routines=False
            )
            band = population.bands[0].band
            await stack.register_population(population)
            patched = await api.patch("/api/v1/caregivers/c-00001", json={"phone": PHONE})
            assert patched.status_code == 200, patched.text
            await stack.enroll_gateway("gw-01")
            stack.gateway_extra["gw-01"] = {
                "modem": {"port": modem.port, "offline_after_s": 2.0, "command_timeout_s": 3.0}
            }
            await stack.start_gateways()
            advertising = asyncio.create_task(population.run())

            async def in_sync() -> dict[str, Any] | None:
                gateway: dict[str, Any] = (await api.get("/api/v1/gateways/gw-01")).json()
                return gateway if gateway["config_in_sync"] and gateway["reported_ok"] else None

            gateway = await eventually(in_sync, 30, "the gateway to report the desired version")
            status = stack.gateway_status("gw-01").status
            assert status is not None
            assert status.config.version == gateway["desired_version"]
            assert status.radio.bands_configured == 2

            await stack.stop_broker()
            population.press(band.mac, Button.LONG)
            (sms,) = await asyncio.to_thread(modem.wait_for, 1, 60)
            assert sms.number == PHONE
            assert "紧急求救" in sms.text
            await stack.start_broker()

            async def alerted() -> list[dict[str, Any]]:
                alerts: list[dict[str, Any]] = (await api.get("/api/v1/alerts")).json()
                return alerts

            (alert,) = await eventually(alerted, 60, "the alert")
            assert alert["device"] == band.mac
            assert PHONE[3:] not in stack.gateway_log("gw-01")
        finally:
            if advertising is not None:
                advertising.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await advertising
            await stack.stop()
