"""Two fleet processes on one private PostgreSQL: every escalation step fires exactly
once, whichever instance claims its timer, and stopping one instance mid-escalation
loses no step."""

import asyncio
import base64
import os
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from contract import EventKind
from silverguard.servers.postgres import PostgresServer
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack
from tests.e2e.alerting_world import build, critical, gateway_client, link_in, publish
from tests.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

RESIDENTS = 10
POLICY = {
    "steps": [
        {"after_s": 0, "targets": ["caregivers"]},
        {"after_s": 2, "targets": ["grid_worker"]},
        {"after_s": 4, "targets": ["duty_line"]},
    ],
    "repeat_every_s": 6,
}


async def test_two_instances_fire_each_step_exactly_once(tmp_path: Path, receiver: Receiver):
    postgres = await asyncio.to_thread(PostgresServer().start)
    try:
        url = await asyncio.to_thread(postgres.create_database, "sg_two_fleets")
        shared_key = base64.b64encode(os.urandom(32)).decode()
        stack = Stack(
            tmp_path / "stack",
            [GatewaySpec("gw-01", (0.0, 0.0)), GatewaySpec("gw-02", (10.0, 0.0))],
            fleet_settings={"database_url": url, "secret_key": shared_key},
        )
        async with stack:
            await run(stack, receiver)
    finally:
        await asyncio.to_thread(postgres.cleanup)


async def run(stack: Stack, receiver: Receiver) -> None:
    api = stack.api
    assert api is not None
    second_url = await stack.start_extra_fleet("fleet-b")
    bands = await build(
        stack,
        residents=RESIDENTS,
        family=[[receiver.url(f"family-{i}")] for i in range(1, RESIDENTS + 1)],
        worker=[receiver.url("grid")],
        duty=[receiver.url("duty")],
        policy=POLICY,
    )
    async with gateway_client(stack, "gw-01") as one, gateway_client(stack, "gw-02") as two:
        for i, band in enumerate(bands):
            client, gateway = (one, "gw-01") if i % 2 == 0 else (two, "gw-02")
            await publish(client, critical(band, EventKind.SOS, 1, time.time(), gateway))
    await asyncio.to_thread(receiver.wait_for, RESIDENTS, timeout=20)

    # Both instances took events (the broker's shared subscription splits them) ...
    async with httpx.AsyncClient(base_url=second_url, timeout=10) as second:
        health_a = (await api.get("/health")).json()
        health_b = (await second.get("/health")).json()
    assert health_a["ingest"]["events"] > 0
    assert health_b["ingest"]["events"] > 0

    # ... then one stops in the middle of the first round; the other carries on.
    async def first_round_under_way() -> bool:
        alerts = (await api.get("/api/v1/alerts")).json()
        for alert in alerts:
            detail = (await api.get(f"/api/v1/alerts/{alert['id']}")).json()
            if any(
                e["action"] == "escalated" and e["detail"]["step"] >= 1 for e in detail["timeline"]
            ):
                return True
        return False

    await eventually(first_round_under_way, 30, "a second step of the first round")
    await asyncio.to_thread(stack.extra_fleets["fleet-b"].stop)

    # Every alert reaches round 2's grid worker step (12 s after it opened).
    async def all_reached_round_two() -> list[dict]:  # type: ignore[type-arg]
        alerts = (await api.get("/api/v1/alerts")).json()
        details = [(await api.get(f"/api/v1/alerts/{a['id']}")).json() for a in alerts]
        done = [
            d
            for d in details
            if any(
                e["action"] == "escalated" and (e["detail"]["round"], e["detail"]["step"]) == (1, 1)
                for e in d["timeline"]
            )
        ]
        return details if len(done) == RESIDENTS else []

    details = await eventually(all_reached_round_two, 40, "every alert at round 2's grid step")
    for detail in details:
        await api.post(f"/api/v1/alerts/{detail['id']}/ack")

    # Deliveries already made are sent (or given up); then compare.
    async def settled() -> list[dict]:  # type: ignore[type-arg]
        now = [(await api.get(f"/api/v1/alerts/{d['id']}")).json() for d in details]
        pending = [x for d in now for x in d["deliveries"] if x["status"] == "pending"]
        return [] if pending else now

    details = await eventually(settled, 30, "every delivery sent or given up")

    actors: Counter[str] = Counter()
    for detail in details:
        fired = [
            (e["detail"]["round"], e["detail"]["step"])
            for e in detail["timeline"]
            if e["action"] == "escalated"
        ]
        assert len(fired) == len(set(fired)), f"alert {detail['id']}: a step fired twice: {fired}"
        assert {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)} <= set(fired)
        actors.update(e["actor"] for e in detail["timeline"] if e["action"] == "escalated")
        # Each firing made one delivery per contact; each delivery sent is one message.
        made = Counter((d["round"], d["step"], d["contact"]) for d in detail["deliveries"])
        assert set(made.values()) == {1}
        assert {(r, s) for r, s, _ in made} == set(fired)
        names = {0: "family", 1: "grid", 2: "duty"}
        expected = Counter(names[d["step"]] for d in detail["deliveries"] if d["status"] == "sent")
        # Offers only: the dispatch task's news (taken, assigned) carry no acknowledge link.
        received = Counter(
            r.path.strip("/").split("-")[0]
            for r in receiver.delivered()
            if "/ack/" in r.body["message"] and link_in(r).alert_id == detail["id"]
        )
        assert received == expected, f"alert {detail['id']}: {received} != {expected}"
    assert len(actors) == 2, f"both instances fired steps: {actors}"
