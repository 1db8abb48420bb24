"""Several fleet processes on one PostgreSQL and one broker, one of them SIGKILLed in the
middle of a stream of telemetry and events, then restarted (as systemd would):

- every reading sent is stored, once (none lost with the killed process: it
  acknowledged to the broker only what was out of its memory, and its session kept the
  rest for it);
- every incident is one alert, although two gateways reported it;
- every escalation step fires once, whichever process claims its timer;
- figures: readings/s through the two processes, how long the killed one's share waited.
"""

import asyncio
import base64
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from contract import EventKind, Reading, TelemetryBatch, Topic, TopicKind, encode
from silverguard.servers.postgres import PostgresServer
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack
from tests.e2e.alerting_world import build, critical, gateway_client, publish
from tests.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.faults]

RESIDENTS = 12
GATEWAYS = ("gw-01", "gw-02", "gw-03", "gw-04")
PER_BATCH = 25
BATCH_EVERY_S = 0.05  # per gateway: 4 × 25 / 0.05 = 2,000 readings/s offered
POLICY = {
    "steps": [
        {"after_s": 0, "targets": ["caregivers"]},
        {"after_s": 3, "targets": ["grid_worker"]},
    ],
    "repeat_every_s": 600,
}


class Stream:
    """Telemetry from every gateway, each reading once, at a steady rate."""

    def __init__(self, bands: list[str]) -> None:
        self.bands = bands
        self.sent = 0
        self.stop = asyncio.Event()

    async def gateway(self, client: aiomqtt.Client, gateway: str, index: int) -> None:
        # Each band is heard by one gateway only: the fleet keeps one gateway's reports
        # of a band (fleet/ingest/source.py), and every reading sent must be kept.
        mine = self.bands[index :: len(GATEWAYS)]
        seq = 0
        base = time.time()
        while not self.stop.is_set():
            seq += 1
            readings = [
                # A millisecond of its own for every reading (the writer's precision):
                # two readings of a band never share a point.
                Reading(
                    device=mine[i % len(mine)],
                    ts=base + (seq * PER_BATCH + i) * 0.001,
                    rssi=-60,
                    fields={"steps": seq, "battery": 80},
                )
                for i in range(PER_BATCH)
            ]
            batch = TelemetryBatch(gateway=gateway, seq=seq, readings=readings)
            await client.publish(str(Topic(gateway, TopicKind.TELEMETRY)), encode(batch), qos=1)
            self.sent += PER_BATCH
            await asyncio.sleep(BATCH_EVERY_S)


async def stored(stack: Stack) -> int:
    result = await stack.influx_query("SELECT count(steps) FROM wristband")
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def health(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        answer: dict[str, Any] = (await client.get("/health")).json()
        return answer


async def test_a_killed_fleet_process_loses_nothing_and_nothing_is_done_twice(
    tmp_path: Path, receiver: Receiver
) -> None:
    postgres = await asyncio.to_thread(PostgresServer().start)
    try:
        url = await asyncio.to_thread(postgres.create_database, "sg_share")
        stack = Stack(
            tmp_path / "stack",
            [GatewaySpec(g, (10.0 * i, 0.0)) for i, g in enumerate(GATEWAYS)],
            fleet_settings={
                "database_url": url,
                "secret_key": base64.b64encode(os.urandom(32)).decode(),
            },
        )
        async with stack:
            await run(stack, receiver)
    finally:
        await asyncio.to_thread(postgres.cleanup)


async def run(stack: Stack, receiver: Receiver) -> None:
    api = stack.api
    assert api is not None
    bands = await build(
        stack,
        residents=RESIDENTS,
        family=[[receiver.url(f"family-{i}")] for i in range(1, RESIDENTS + 1)],
        worker=[receiver.url("grid")],
        duty=[receiver.url("duty")],
        policy=POLICY,
    )
    second_url = await stack.start_extra_fleet("fleet-b")
    stream = Stream(bands)
    clients = [gateway_client(stack, g) for g in GATEWAYS]
    for client in clients:
        await client.__aenter__()
    try:
        publishers = [
            asyncio.create_task(stream.gateway(c, g, i))
            for i, (c, g) in enumerate(zip(clients, GATEWAYS, strict=True))
        ]
        started = time.monotonic()
        # Every incident reported by two gateways, half before the kill, half after.
        for i, band in enumerate(bands[: RESIDENTS // 2]):
            for client, gateway in ((clients[i % 4], GATEWAYS[i % 4]), (clients[3], "gw-04")):
                await publish(client, critical(band, EventKind.SOS, 1, time.time(), gateway))

        async def second_has_a_share() -> int:
            kept: int = (await health(second_url))["telemetry"]["kept"]
            return kept

        # The stream runs on until the second process has taken a share of it.
        await eventually(second_has_a_share, 30, "the second process's share")
        killed_at = time.monotonic()
        await asyncio.to_thread(stack.extra_fleets["fleet-b"].kill)
        for i, band in enumerate(bands[RESIDENTS // 2 :]):
            for client, gateway in ((clients[i % 4], GATEWAYS[i % 4]), (clients[2], "gw-03")):
                await publish(client, critical(band, EventKind.SOS, 1, time.time(), gateway))
        await asyncio.sleep(2.0)  # the killed process's share waits in its session
        # Same account and client id: its session, and what waits in it, is its again.
        second_url = await stack.start_extra_fleet("fleet-b")
        back_at = time.monotonic()
        await asyncio.sleep(2.0)
        stream.stop.set()
        await asyncio.gather(*publishers)
        streamed_s = time.monotonic() - started
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)

    sent = stream.sent

    async def all_stored() -> int | None:
        n = await stored(stack)
        return n if n >= sent else None

    t0 = time.monotonic()
    try:
        n = await eventually(all_stored, 60, f"all {sent} readings in InfluxDB")
    except AssertionError:
        counts = [(await health(u))["telemetry"] for u in (stack.fleet_url, second_url)]
        raise AssertionError(f"stored {await stored(stack)} of {sent}; {counts}") from None
    drained_s = time.monotonic() - t0
    assert n == sent  # none lost, none twice
    kept = [(await health(u))["telemetry"]["kept"] for u in (stack.fleet_url, second_url)]
    print(
        f"\nfleets share ingest: {sent} readings in {streamed_s:.1f} s "
        f"({sent / streamed_s:.0f}/s offered), stored {n}, lost {sent - n}; "
        f"fleet-b SIGKILLed for {back_at - killed_at:.1f} s; "
        f"kept by process since its start: a {kept[0]}, b {kept[1]}; "
        f"drained {drained_s:.1f} s after the stream stopped"
    )

    # One alert per incident; each step fired once, each delivery made and sent once.
    async def every_alert_escalated() -> list[dict[str, Any]]:
        alerts = (await api.get("/api/v1/alerts")).json()
        details = [(await api.get(f"/api/v1/alerts/{a['id']}")).json() for a in alerts]
        fired = [
            d
            for d in details
            if any(e["action"] == "escalated" and e["detail"]["step"] == 1 for e in d["timeline"])
        ]
        return details if len(fired) == RESIDENTS else []

    details = await eventually(every_alert_escalated, 40, "every alert at its grid worker step")
    assert len(details) == RESIDENTS
    assert len({d["resident_id"] for d in details}) == RESIDENTS
    for detail in details:
        await api.post(f"/api/v1/alerts/{detail['id']}/ack")

    async def settled() -> list[dict[str, Any]]:
        now = [(await api.get(f"/api/v1/alerts/{d['id']}")).json() for d in details]
        pending = [x for d in now for x in d["deliveries"] if x["status"] == "pending"]
        return [] if pending else now

    expected: Counter[str] = Counter()
    # A job the killed process had claimed waits for its lease (60 s) to run out before
    # the other process takes it: at least once, never lost, but not at once.
    for detail in await eventually(settled, 90, "every delivery sent"):
        fired = [
            (e["detail"]["round"], e["detail"]["step"])
            for e in detail["timeline"]
            if e["action"] == "escalated"
        ]
        assert sorted(fired) == [(0, 0), (0, 1)], f"alert {detail['id']}: {fired}"
        opened = [e for e in detail["timeline"] if e["action"] == "opened"]
        assert len(opened) == 1
        made = Counter((d["round"], d["step"], d["contact"]) for d in detail["deliveries"])
        assert set(made.values()) == {1}
        names = {0: "family", 1: "grid"}
        expected.update(names[d["step"]] for d in detail["deliveries"] if d["status"] == "sent")
    # Every contact the fleet recorded a sent delivery for got it. (Counts are the
    # fleet's: other messages — acknowledgement notices — reach the same phones.)
    got = {r.path.strip("/").split("-")[0] for r in receiver.delivered()}
    assert {kind for kind, n in expected.items() if n} <= got
