"""``silverguard bench event-intake``: how many events a second the fleet stores and
acknowledges when a burst arrives — the district's morning dose window, where some 600
"taken" presses are each heard by two or three gateways within minutes.

Real servers (the ``Stack``): a private Mosquitto, InfluxDB and the fleet as its own
process, the bands registered by bulk CSV import and every gateway covering their
community. Simulated gateways — asyncio clients in this process, each with its own
broker account — publish ``medication_taken`` events in the real wire format: each
distinct event is sent by ``copies`` gateways, all at once. Each gateway listens on its
``event/ack`` topic. Figures:

* ``events_per_s``: distinct events / (first publish → the last copy acknowledged);
* ``messages_per_s``: the same for every copy (what the fleet really handles);
* ack latency per copy (publish → its id in an ``event/ack``), p50 / p99 / max;
* ``ack_messages``: how many ``event/ack`` messages carried those ids (batching);
* the fleet's CPU (share of one core) over the burst;
* ``sos_ack_s``: one SOS, published by the first gateway right after its share of the
  burst, from publish to its acknowledgement — how long an emergency waits behind the
  morning's presses (fleet.ingest.intake_queue puts it first).

Unlike a gateway this client never resends, so the figures are the fleet's own pace,
not a resend storm's.
"""

import asyncio
import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import psutil

from contract import Event, EventAck, EventKind, Severity, Topic, TopicKind, decode, encode
from silverguard.bench.alert_latency import percentile
from silverguard.bench.fleet_ingest import Load, _register
from silverguard.sim.stack import GatewaySpec, Stack


@dataclass
class Burst:
    events: int
    gateways: int
    copies: int

    def senders(self, n: int) -> list[int]:
        """The gateways that send event ``n`` (neighbours, as overlapping coverage is)."""
        return [(n + k) % self.gateways for k in range(self.copies)]


@dataclass
class Tally:
    sent_at: dict[tuple[int, str], float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    ack_messages: int = 0
    sos: tuple[str, float] | None = None  # the SOS's id and when it was published
    sos_latency: float | None = None
    first_at: float = 0.0
    all_acked: asyncio.Event = field(default_factory=asyncio.Event)


def _gateway(i: int) -> str:
    return f"gw-bench-{i:03d}"


async def _gateway_client(
    stack: Stack, burst: Burst, load: Load, i: int, *, tally: Tally, go: asyncio.Event
) -> None:
    creds = stack.gateway_credentials[_gateway(i)]
    mine = [n for n in range(burst.events) if i in burst.senders(n)]
    async with aiomqtt.Client(
        stack.mosquitto.host,
        stack.mosquitto.port,
        username=creds.username,
        password=creds.password,
        identifier=_gateway(i),
        protocol=aiomqtt.ProtocolVersion.V5,
        max_queued_outgoing_messages=10_000,
    ) as client:
        await client.subscribe(str(Topic(_gateway(i), TopicKind.EVENT_ACK)), qos=1)
        events = {}
        now = time.time()
        for n in mine:
            band = load.macs[n % load.bands]
            event = Event.incident(
                EventKind.MEDICATION_TAKEN,
                Severity.LOW,
                device=band,
                gateway=_gateway(i),
                key=f"bench-{n}",
                occurred_at=now,
                detected_at=now,
                evidence={"dose": "am"},
            )
            events[event.id] = encode(event)

        async def receive() -> None:
            async for message in client.messages:
                ack = decode(bytes(message.payload), EventAck)  # type: ignore[arg-type]
                tally.ack_messages += 1
                at = time.monotonic()
                if tally.sos is not None and tally.sos[0] in ack.ids:
                    tally.sos_latency = at - tally.sos[1]
                for event_id in ack.ids:
                    sent = tally.sent_at.pop((i, event_id), None)
                    if sent is not None:
                        tally.latencies.append(at - sent)
                if not tally.sent_at and tally.latencies and tally.sos_latency is not None:
                    tally.all_acked.set()

        receiving = asyncio.create_task(receive())
        await go.wait()
        topic = str(Topic(_gateway(i), TopicKind.EVENT))
        tally.first_at = tally.first_at or time.monotonic()
        for event_id, payload in events.items():
            tally.sent_at[(i, event_id)] = time.monotonic()
            await client.publish(topic, payload, qos=1)
        if i == 0:
            await _publish_sos(client, topic, load.macs[0], _gateway(i), tally)
        await tally.all_acked.wait()
        receiving.cancel()


async def _publish_sos(
    client: aiomqtt.Client, topic: str, band: str, gateway: str, tally: Tally
) -> None:
    now = time.time()
    sos = Event.incident(
        EventKind.SOS,
        Severity.CRITICAL,
        device=band,
        gateway=gateway,
        key="bench-sos",
        occurred_at=now,
        detected_at=now,
    )
    tally.sos = (sos.id, time.monotonic())
    await client.publish(topic, encode(sos), qos=1)


async def _run(burst: Burst, bands: int, timeout_s: float, workdir: Path) -> dict[str, Any]:
    load = Load(bands=bands, gateways=burst.gateways, rate=0, seconds=0, batch=1)
    specs = [GatewaySpec(_gateway(i), (0.0, 0.0)) for i in range(burst.gateways)]
    stack = Stack(workdir, specs)
    try:
        await stack.start()
        await _register(stack, load)
        assert stack.fleet_process is not None
        assert stack.fleet_process.proc is not None
        fleet = psutil.Process(stack.fleet_process.proc.pid)
        tally = Tally()
        go = asyncio.Event()
        clients = [
            asyncio.create_task(_gateway_client(stack, burst, load, i, tally=tally, go=go))
            for i in range(burst.gateways)
        ]
        await asyncio.sleep(1.0)  # every client subscribed to its acks
        cpu_before = sum(fleet.cpu_times()[:2])
        go.set()
        with contextlib.suppress(TimeoutError):  # the figures say how many were acked
            await asyncio.wait_for(tally.all_acked.wait(), timeout_s)
        done_at = time.monotonic()
        cpu = sum(fleet.cpu_times()[:2]) - cpu_before
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    finally:
        await stack.stop()
    messages = burst.events * burst.copies
    acked = len(tally.latencies)
    wall = max(done_at - tally.first_at, 1e-9)
    latencies = tally.latencies or [float("nan")]
    return {
        "events": burst.events,
        "copies": burst.copies,
        "gateways": burst.gateways,
        "messages": messages,
        "acked": acked,
        "wall_s": round(wall, 2),
        "events_per_s": round(burst.events * acked / messages / wall, 1),
        "messages_per_s": round(acked / wall, 1),
        "ack_p50_s": round(percentile(latencies, 50), 3),
        "ack_p99_s": round(percentile(latencies, 99), 3),
        "ack_max_s": round(max(latencies), 3),
        "ack_messages": tally.ack_messages,
        "fleet_cpu_pct": round(100 * cpu / wall, 1),
        "sos_ack_s": None if tally.sos_latency is None else round(tally.sos_latency, 3),
    }


def run(
    *,
    events: int = 600,
    gateways: int = 12,
    copies: int = 3,
    bands: int = 867,
    timeout_s: float = 300.0,
    workdir: Path | None = None,
) -> dict[str, Any]:
    if not 1 <= copies <= gateways:
        raise ValueError(f"copies must be between 1 and the number of gateways ({gateways})")
    temp = workdir or Path(tempfile.mkdtemp(prefix="sg-bench-events-"))
    try:
        return asyncio.run(_run(Burst(events, gateways, copies), bands, timeout_s, temp))
    finally:
        if workdir is None:
            with contextlib.suppress(OSError):
                shutil.rmtree(temp)
