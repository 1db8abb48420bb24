"""A gateway that dies leaves its residents unprotected: the community's duty line is
told, and the alert resolves when the gateway is back."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack
from tests.e2e.alerting_world import COMMUNITY, build
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_a_dead_gateway_calls_the_duty_line_and_its_return_resolves_the_alert(
    tmp_path: Path, receiver: Receiver
):
    stack = Stack(
        tmp_path / "stack",
        [GatewaySpec("gw-01", (0.0, 0.0))],
        fleet_settings={"gateway_offline_alert_s": 2.0, "notify_retry_s": 0.5},
    )
    await stack.start()
    try:
        api = stack.api
        assert api is not None
        await build(
            stack,
            residents=1,
            family=[receiver.url("family")],
            worker=[receiver.url("grid")],
            duty=[receiver.url("duty")],
            policy=None,  # the default: caregivers, grid worker, duty line
        )
        await stack.enroll_gateway("gw-01", communities=[COMMUNITY])
        await stack.start_gateway("gw-01")

        async def coverage_alerts() -> list[dict[str, Any]]:
            alerts: list[dict[str, Any]] = (await api.get("/api/v1/alerts")).json()
            return [a for a in alerts if a["kind"] == "gateway_offline"]

        async def status_is(state: str) -> bool:
            rows = (await api.get("/api/v1/gateway-status")).json()
            return any(r["id"] == "gw-01" and r["status"] == state for r in rows)

        await eventually(lambda: status_is("online"), 30, "the gateway online")
        stack.kill_gateway("gw-01")  # power cut: the broker publishes its last will
        (duty,) = await asyncio.to_thread(receiver.wait_for, 1, path="duty", timeout=30)
        assert "网关离线" in duty.body["title"]
        (alert,) = await eventually(coverage_alerts, 10, "the coverage alert")
        assert alert["device"] == "gw-01"
        assert alert["severity"] == "high"
        # A gateway alert calls the community's people, never a resident's family.
        assert receiver.delivered("family") == []

        await stack.start_gateway("gw-01")

        async def resolved() -> list[dict[str, Any]]:
            return [a for a in await coverage_alerts() if a["state"] == "resolved"]

        await eventually(resolved, 30, "the alert resolved by the gateway's return")
    finally:
        await stack.stop()
