"""``silverguard bench fleet-ingest``: how many readings a second the fleet takes from
the broker into InfluxDB, and how long a reading takes to become queryable.

Real servers (the ``Stack``): a private Mosquitto, InfluxDB and the fleet as its own
process, with the district's bands registered (bulk CSV import) and gateways covering
their community. Simulated gateways — asyncio clients in this process, each with its
own broker account — publish telemetry batches in the real wire format at a set rate.
Then the same load goes to the *bare pipe* (silverguard/bench/bare_pipe.py, its own
process: subscribe, f-string line protocol, batched /write, nothing else) as the
reference. For each:

* ``readings_per_s``: readings sent / (first publish → the last one queryable), the
  rate sustained end to end; ``stored`` says how many of them InfluxDB holds;
* lag: a few probe bands carry a sequence number; a watcher polls InfluxDB for it and
  measures publish → queryable, p50 and p99;
* the consumer's CPU (share of one core) and peak RSS.
"""

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import psutil

from contract import Reading, TelemetryBatch, Topic, TopicKind, encode
from silverguard.bench.alert_latency import percentile
from silverguard.servers.mosquitto import Credentials
from silverguard.servers.process import ChildProcess
from silverguard.sim.stack import GatewaySpec, Stack

COMMUNITY = "c-bench"
TOWN = "t-bench"
_PROBES = 4  # probe bands, spread over the gateways


@dataclass
class Load:
    bands: int
    gateways: int
    rate: float  # readings per second, all gateways together
    seconds: float
    batch: int  # readings per message

    @property
    def macs(self) -> list[str]:
        return [
            f"C2:B0:{i >> 16 & 0xFF:02X}:{i >> 8 & 0xFF:02X}:{i & 0xFF:02X}:01"
            for i in range(self.bands)
        ]


@dataclass
class Probe:
    sent_at: dict[tuple[str, int], float] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    sent: int = 0
    first_at: float = 0.0
    last_at: float = 0.0


async def _publisher(
    load: Load, index: int, creds: Credentials, broker: tuple[str, int], probe: Probe
) -> None:
    host, port = broker
    gateway = f"gw-bench-{index:03d}"
    mine = load.macs[index :: load.gateways]
    probes = set(load.macs[:_PROBES])
    per_gateway = load.rate / load.gateways
    interval = load.batch / per_gateway
    seq = 0
    probe_seq: dict[str, int] = {}
    async with aiomqtt.Client(
        host,
        port,
        username=creds.username,
        password=creds.password,
        identifier=gateway,
        protocol=aiomqtt.ProtocolVersion.V5,
        max_queued_outgoing_messages=1000,
    ) as client:
        start = time.monotonic()
        end = start + load.seconds
        cursor = 0
        while time.monotonic() < end:
            readings = []
            now = time.time()
            for _ in range(load.batch):
                mac = mine[cursor % len(mine)]
                cursor += 1
                fields: dict[str, Any] = {
                    "battery": 80,
                    "steps": cursor,
                    "worn": True,
                    "moving": cursor % 3 == 0,
                    "tilt_deg": -12.5,
                    "peak_g": 1.04,
                }
                if mac in probes:
                    probe_seq[mac] = probe_seq.get(mac, 0) + 1
                    fields["probe"] = probe_seq[mac]
                    probe.sent_at[(mac, probe_seq[mac])] = now
                readings.append(Reading(device=mac, ts=now, rssi=-60, fields=fields))
            seq += 1
            batch = TelemetryBatch(gateway=gateway, seq=seq, readings=readings)
            await client.publish(str(Topic(gateway, TopicKind.TELEMETRY)), encode(batch), qos=1)
            probe.sent += len(readings)
            probe.first_at = probe.first_at or time.time()
            probe.last_at = time.time()
            # Keep the rate: the next batch is due ``interval`` after the previous one.
            next_at = start + seq * interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def _query(http: httpx.AsyncClient, url: str, db: str, q: str) -> Any:
    response = await http.post(f"{url}/query", data={"q": q, "db": db, "epoch": "ms"})
    response.raise_for_status()
    return response.json()["results"][0].get("series")


async def _watch_probes(url: str, db: str, load: Load, probe: Probe, stop: asyncio.Event) -> None:
    seen: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        while not stop.is_set():
            for mac in load.macs[:_PROBES]:
                series = await _query(
                    http,
                    url,
                    db,
                    f"SELECT last(probe) FROM wristband WHERE device = '{mac}'",  # noqa: S608 - our own MACs
                )
                if not series:
                    continue
                latest = int(series[0]["values"][0][1])
                now = time.time()
                for s in range(seen.get(mac, 0) + 1, latest + 1):
                    sent = probe.sent_at.get((mac, s))
                    if sent is not None:
                        probe.lags.append(now - sent)
                seen[mac] = latest
            await asyncio.sleep(0.05)


async def _count(url: str, db: str, since_ms: int) -> int:
    async with httpx.AsyncClient(timeout=60) as http:
        series = await _query(
            http,
            url,
            db,
            f"SELECT count(battery) FROM wristband WHERE time >= {since_ms}ms",  # noqa: S608
        )
    return int(series[0]["values"][0][1]) if series else 0


async def _measure(stack: Stack, load: Load, db: str, consumer: psutil.Process) -> dict[str, Any]:
    probe = Probe()
    since_ms = int(time.time() * 1000) - 1000
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch_probes(stack.influx.url, db, load, probe, stop))
    cpu_before = sum(consumer.cpu_times()[:2])
    wall_before = time.monotonic()
    rss_peak = 0.0
    publishers = [
        asyncio.create_task(
            _publisher(
                load,
                i,
                stack.gateway_credentials[f"gw-bench-{i:03d}"],
                (stack.mosquitto.host, stack.mosquitto.port),
                probe,
            )
        )
        for i in range(load.gateways)
    ]
    while not all(p.done() for p in publishers):
        rss_peak = max(rss_peak, consumer.memory_info().rss / 2**20)
        await asyncio.sleep(0.5)
    await asyncio.gather(*publishers)
    # Until every reading sent is queryable (or clearly will not be).
    stored, done_at = 0, time.time()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = await _count(stack.influx.url, db, since_ms)
        done_at = time.time()
        rss_peak = max(rss_peak, consumer.memory_info().rss / 2**20)
        if stored >= probe.sent:
            break
        await asyncio.sleep(0.2)
    cpu = sum(consumer.cpu_times()[:2]) - cpu_before
    wall = time.monotonic() - wall_before
    stop.set()
    await watcher
    lags = probe.lags or [float("nan")]
    return {
        "readings_sent": probe.sent,
        "stored": stored,
        "readings_per_s": round(stored / max(done_at - probe.first_at, 1e-9)),
        "lag_p50_s": round(percentile(lags, 50), 3),
        "lag_p99_s": round(percentile(lags, 99), 3),
        "cpu_pct": round(100 * cpu / wall, 1),
        "rss_mb": round(rss_peak, 1),
    }


async def _register(stack: Stack, load: Load) -> None:
    api = stack.api
    assert api is not None
    for path, place in (
        ("/api/v1/towns", {"id": TOWN, "name": "Bench town"}),
        ("/api/v1/communities", {"id": COMMUNITY, "town_id": TOWN, "name": "Bench"}),
    ):
        (await api.post(path, json=place)).raise_for_status()
    rows = ["mac,bind_key,community_id"]
    rows += [f"{mac},{os.urandom(16).hex()},{COMMUNITY}" for mac in load.macs]
    response = await api.post(
        "/api/v1/wristbands/import",
        params={"dry_run": "false"},
        content="\n".join(rows).encode(),
        headers={"Content-Type": "text/csv"},
        timeout=300,
    )
    response.raise_for_status()
    for i in range(load.gateways):
        body: dict[str, Any] = {"id": f"gw-bench-{i:03d}", "communities": [COMMUNITY]}
        (await api.post("/api/v1/gateways", json=body)).raise_for_status()


async def _run(load: Load, workdir: Path) -> dict[str, Any]:
    specs = [GatewaySpec(f"gw-bench-{i:03d}", (0.0, 0.0)) for i in range(load.gateways)]
    # The fleet writes InfluxDB as it would in production (1 s flushes, 5,000-line batches).
    stack = Stack(workdir, specs, fleet_settings={"influx": {"flush_interval_s": 1.0}})
    bare: ChildProcess | None = None
    try:
        await stack.start()
        await _register(stack, load)
        assert stack.fleet_process is not None
        assert stack.fleet_process.proc is not None
        fleet = await _measure(
            stack, load, "silverguard", psutil.Process(stack.fleet_process.proc.pid)
        )
        await stack.stop_fleet()
        async with httpx.AsyncClient() as http:
            await http.post(f"{stack.influx.url}/query", data={"q": "CREATE DATABASE bare"})
        # An account with the fleet's rights of its own (every account is pinned to one
        # client id).
        creds = await asyncio.to_thread(
            stack.mosquitto.add_fleet, "bare-pipe", client_id="bare-pipe"
        )
        bare = ChildProcess(
            "bare pipe",
            [
                sys.executable,
                "-m",
                "silverguard.bench.bare_pipe",
                "--mqtt",
                f"{stack.mosquitto.host}:{stack.mosquitto.port}",
                "--user",
                creds.username,
                "--password",
                creds.password,
                "--client-id",
                "bare-pipe",
                "--influx",
                stack.influx.url,
                "--db",
                "bare",
            ],
            workdir / "bare-pipe.log",
        )
        bare.start()
        await asyncio.to_thread(bare.wait_ready, lambda: bare.log_count("ready") > 0, 30)
        assert bare.proc is not None
        reference = await _measure(stack, load, "bare", psutil.Process(bare.proc.pid))
    finally:
        if bare is not None:
            await asyncio.to_thread(bare.stop)
        await stack.stop()
    return {
        "readings_per_s": fleet["readings_per_s"],
        "lag_p50_s": fleet["lag_p50_s"],
        "lag_p99_s": fleet["lag_p99_s"],
        "bare_pipe_readings_per_s": reference["readings_per_s"],
        "ratio": round(fleet["readings_per_s"] / max(reference["readings_per_s"], 1), 2),
        "fleet_cpu_pct": fleet["cpu_pct"],
        "fleet_rss_mb": fleet["rss_mb"],
        "offered_readings_per_s": load.rate,
        "bands": load.bands,
        "gateways": load.gateways,
        "batch": load.batch,
        "seconds": load.seconds,
        "fleet": fleet,
        "bare_pipe": reference,
    }


def run(
    *,
    bands: int = 10_000,
    gateways: int = 20,
    rate: float = 12_000.0,
    seconds: float = 30.0,
    batch: int = 500,
    workdir: Path | None = None,
) -> dict[str, Any]:
    load = Load(bands, gateways, rate, seconds, batch)
    temp = workdir or Path(tempfile.mkdtemp(prefix="sg-bench-ingest-"))
    try:
        return asyncio.run(_run(load, temp))
    finally:
        if workdir is None:
            with contextlib.suppress(OSError):
                shutil.rmtree(temp)
