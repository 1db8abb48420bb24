"""``silverguard sim city``: the fleet side of a city, on this machine, for a bounded time.

Real servers (a private Mosquitto, InfluxDB, and PostgreSQL when there are several
fleet processes), ``fleets`` fleet processes sharing the gateways' messages, the city's
wristbands registered (bulk CSV import) and its gateways registered as covering them.
Simulated gateways — one MQTT connection each, with a broker account of its own — then
publish straight to the broker, as real ones would after their radio and rules: every
band's reading once per ``telemetry_interval_s`` in the gateway's telemetry batch (the
real wire format), and now and then an SOS event, which the fleet must store and
acknowledge while the telemetry flows.

Reported, as one JSON line:

* ``readings_per_s``: readings stored in InfluxDB / the time from the first publish to
  the last reading queryable, against ``offered_readings_per_s``;
* ``lag_p50_s`` / ``lag_p99_s``: publish → queryable, by probe bands carrying a counter;
* ``alert_ack_p50_s`` / ``alert_ack_p99_s``: an SOS published → the fleet's
  acknowledgement back at the gateway (sent once the alert is stored), under the load;
* ``processes``: CPU (% of one core) and peak RSS of every server and fleet process;
* ``saturates_first``: the tier nearest its limit — a single-threaded process (the
  fleet, Mosquitto) at 100 % of one core, a multi-threaded one (InfluxDB, PostgreSQL)
  at 100 % of the machine — and ``backlog``: readings not stored when the load ended.

Everything it starts is stopped when it ends, however it ends.
"""

import asyncio
import base64
import contextlib
import os
import random
import secrets
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import psutil

from contract import (
    EventAck,
    EventKind,
    Reading,
    Severity,
    TelemetryBatch,
    Topic,
    TopicKind,
    decode,
    encode,
)
from contract.acl import gateway_acls
from contract.messages import Event
from silverguard.servers.mosquitto import Credentials
from silverguard.servers.postgres import PostgresServer
from silverguard.sim.stack import Stack

TOWN = "t-city"
COMMUNITY = "c-city"
_PROBES = 8  # probe bands, spread over the gateways
_CONNECT_AT_ONCE = 50
_IMPORT_ROWS = 10_000
_DRAIN_S = 60.0  # after the load, how long stored readings may still catch up


@dataclass(frozen=True)
class City:
    wristbands: int = 100_000
    gateways: int = 2_000
    fleets: int = 1
    duration_s: float = 60.0
    telemetry_interval_s: float = 10.0  # the gateway's default (edge/settings.py)
    sos_every_s: float = 2.0

    def gateway_id(self, i: int) -> str:
        return f"gw-city-{i:05d}"

    def band(self, i: int) -> str:
        return f"C3:{i >> 24 & 0xFF:02X}:{i >> 16 & 0xFF:02X}:{i >> 8 & 0xFF:02X}:{i & 0xFF:02X}:01"

    def bands_of(self, gateway: int) -> list[str]:
        return [self.band(i) for i in range(gateway, self.wristbands, self.gateways)]


@dataclass
class Tally:
    sent: int = 0
    first_at: float = 0.0
    probe_sent: dict[tuple[str, int], float] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    sos_sent: dict[str, float] = field(default_factory=dict)
    sos_acked: list[float] = field(default_factory=list)
    connected: int = 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Gateway:
    """One simulated gateway: its own connection, its bands' batches, its SOS events."""

    def __init__(self, city: City, index: int, creds: Credentials, port: int) -> None:
        self.city = city
        self.id = city.gateway_id(index)
        self.bands = city.bands_of(index)
        self.creds = creds
        self.port = port
        self.seq = 0
        self.probes: dict[str, int] = {}
        self.client: aiomqtt.Client | None = None
        self.up = asyncio.Event()  # connected and subscribed

    async def run(
        self, tally: Tally, stop: asyncio.Event, connected: asyncio.Event, closing: asyncio.Event
    ) -> None:
        async with aiomqtt.Client(
            "127.0.0.1",
            self.port,
            username=self.creds.username,
            password=self.creds.password,
            identifier=self.creds.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            max_queued_outgoing_messages=1000,
        ) as client:
            self.client = client
            await client.subscribe(str(Topic(self.id, TopicKind.EVENT_ACK)), qos=1)
            tally.connected += 1
            self.up.set()
            listener = asyncio.create_task(self._acks(client, tally))
            try:
                await connected.wait()
                # Spread the gateways over the interval, as their clocks would be.
                await asyncio.sleep(random.uniform(0, self.city.telemetry_interval_s))  # noqa: S311
                while not stop.is_set():
                    await self._batch(client, tally)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.city.telemetry_interval_s):
                            await stop.wait()
                await closing.wait()  # acknowledgements may still be on their way
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _batch(self, client: aiomqtt.Client, tally: Tally) -> None:
        if not self.bands:
            return
        now = time.time()
        readings = []
        for n, mac in enumerate(self.bands):
            fields: dict[str, Any] = {"battery": 80, "steps": self.seq, "peak_g": 1.02}
            if mac in _probe_set(self.city):
                self.probes[mac] = self.probes.get(mac, 0) + 1
                fields["probe"] = self.probes[mac]
                tally.probe_sent[(mac, self.probes[mac])] = now
            readings.append(Reading(device=mac, ts=now + n * 0.001, rssi=-60, fields=fields))
        self.seq += 1
        batch = TelemetryBatch(gateway=self.id, seq=self.seq, readings=readings)
        await client.publish(str(Topic(self.id, TopicKind.TELEMETRY)), encode(batch), qos=1)
        tally.sent += len(readings)
        tally.first_at = tally.first_at or now

    async def sos(self, tally: Tally, key: int) -> None:
        if self.client is None or not self.bands:
            return
        now = time.time()
        event = Event.incident(
            EventKind.SOS,
            Severity.CRITICAL,
            device=random.choice(self.bands),  # noqa: S311
            gateway=self.id,
            key=key,
            occurred_at=now,
            detected_at=now,
        )
        tally.sos_sent[event.id] = time.monotonic()
        await self.client.publish(str(Topic(self.id, TopicKind.EVENT)), encode(event), qos=1)

    async def _acks(self, client: aiomqtt.Client, tally: Tally) -> None:
        async for message in client.messages:
            for event_id in decode(bytes(message.payload), EventAck).ids:  # type: ignore[arg-type]
                sent = tally.sos_sent.pop(event_id, None)
                if sent is not None:
                    tally.sos_acked.append(time.monotonic() - sent)


def _probe_set(city: City) -> set[str]:
    step = max(1, city.wristbands // _PROBES)
    return {city.band(i) for i in range(0, city.wristbands, step)}


async def _watch_probes(influx_url: str, city: City, tally: Tally, stop: asyncio.Event) -> None:
    seen: dict[str, int] = {}
    probes = sorted(_probe_set(city))
    q = "; ".join(
        f"SELECT last(probe) FROM wristband WHERE device = '{mac}'"  # noqa: S608 - our own MACs
        for mac in probes
    )
    async with httpx.AsyncClient(timeout=10) as http:
        while not stop.is_set():
            response = await http.post(
                f"{influx_url}/query", data={"q": q, "db": "silverguard", "epoch": "ms"}
            )
            now = time.time()
            if response.status_code == 200:
                for mac, result in zip(probes, response.json()["results"], strict=False):
                    series = result.get("series")
                    if not series:
                        continue
                    latest = int(series[0]["values"][0][1])
                    for n in range(seen.get(mac, 0) + 1, latest + 1):
                        sent = tally.probe_sent.get((mac, n))
                        if sent is not None:
                            tally.lags.append(now - sent)
                    seen[mac] = latest
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await stop.wait()


async def _stored(influx_url: str, since_ms: int) -> int:
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{influx_url}/query",
            data={
                "q": f"SELECT count(battery) FROM wristband WHERE time >= {since_ms}ms",  # noqa: S608
                "db": "silverguard",
            },
        )
        response.raise_for_status()
        series = response.json()["results"][0].get("series")
        return int(series[0]["values"][0][1]) if series else 0


class Sampler:
    """CPU and peak RSS of each named process (with its children: PostgreSQL's backends)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.cpu0 = {name: self._cpu(p) for name, p in self.procs.items()}
        self.rss = dict.fromkeys(self.procs, 0.0)
        self.started = time.monotonic()

    @staticmethod
    def _family(proc: psutil.Process) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [proc, *proc.children(recursive=True)]
        return [proc]

    def _cpu(self, proc: psutil.Process) -> float:
        total = 0.0
        for p in self._family(proc):
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
        return total

    def sample(self) -> None:
        for name, proc in self.procs.items():
            rss = 0.0
            for p in self._family(proc):
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss / 2**20
            self.rss[name] = max(self.rss[name], rss)

    def figures(self) -> dict[str, dict[str, float]]:
        wall = time.monotonic() - self.started
        return {
            name: {
                "cpu_pct": round(100 * (self._cpu(proc) - self.cpu0[name]) / wall, 1),
                "rss_mb": round(self.rss[name], 1),
            }
            for name, proc in self.procs.items()
        }


async def _register(stack: Stack, city: City) -> None:
    api = stack.api
    assert api is not None
    for path, place in (
        ("/api/v1/towns", {"id": TOWN, "name": "City town"}),
        ("/api/v1/communities", {"id": COMMUNITY, "town_id": TOWN, "name": "City"}),
    ):
        (await api.post(path, json=place)).raise_for_status()
    # In files of 10,000 rows: the API bounds a request's size.
    for first in range(0, city.wristbands, _IMPORT_ROWS):
        rows = ["mac,bind_key,community_id"]
        rows += [
            f"{city.band(i)},{os.urandom(16).hex()},{COMMUNITY}"
            for i in range(first, min(first + _IMPORT_ROWS, city.wristbands))
        ]
        response = await api.post(
            "/api/v1/wristbands/import",
            params={"dry_run": "false"},
            content="\n".join(rows).encode(),
            headers={"Content-Type": "text/csv"},
            timeout=900,
        )
        response.raise_for_status()
    queue = list(range(city.gateways))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            body = {"id": city.gateway_id(i), "communities": [COMMUNITY]}
            (await api.post("/api/v1/gateways", json=body)).raise_for_status()

    await asyncio.gather(*(worker() for _ in range(8)))


def _pid(process: Any) -> int:
    proc = getattr(process, "proc", None)
    assert proc is not None, "process not running"
    return int(proc.pid)


async def _run(city: City, workdir: Path) -> dict[str, Any]:
    t_setup = time.monotonic()
    postgres: PostgresServer | None = None
    fleet_settings: dict[str, Any] = {"influx": {"flush_interval_s": 1.0}}
    if city.fleets > 1:
        postgres = await asyncio.to_thread(PostgresServer().start)
        url = await asyncio.to_thread(postgres.create_database, "sg_city")
        # Every process of one fleet shares its secret key (base64 of 32 bytes).
        secret_key = base64.b64encode(secrets.token_bytes(32)).decode()
        fleet_settings |= {"database_url": url, "secret_key": secret_key}
    stack = Stack(workdir / "stack", [], fleet_settings=fleet_settings)
    creds = {
        city.gateway_id(i): Credentials(
            city.gateway_id(i), secrets.token_urlsafe(12), city.gateway_id(i)
        )
        for i in range(city.gateways)
    }
    stack.mosquitto.preload_clients([(c, gateway_acls(g)) for g, c in creds.items()])
    tally = Tally()
    try:
        await stack.start()
        await _register(stack, city)
        fleet_pids = {"fleet-0": _pid(stack.fleet_process)}
        for n in range(1, city.fleets):
            await stack.start_extra_fleet(f"fleet-{n}")
            fleet_pids[f"fleet-{n}"] = _pid(stack.extra_fleets[f"fleet-{n}"])
        pids = {
            **fleet_pids,
            "mosquitto": _pid(stack.mosquitto._process),
            "influxdb": _pid(stack.influx._process),
            "simulator": os.getpid(),
        }
        if postgres is not None:
            pids["postgresql"] = _pid(postgres._process)
        setup_s = time.monotonic() - t_setup

        gateways = [
            Gateway(city, i, creds[city.gateway_id(i)], stack.mosquitto.port)
            for i in range(city.gateways)
        ]
        stop, go, closing = asyncio.Event(), asyncio.Event(), asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        for start in range(0, len(gateways), _CONNECT_AT_ONCE):
            tasks += [
                asyncio.create_task(g.run(tally, stop, go, closing))
                for g in gateways[start : start + _CONNECT_AT_ONCE]
            ]
            # A few connections at a time, as gateways booting across a city would.
            ups = [
                asyncio.create_task(g.up.wait()) for g in gateways[start : start + _CONNECT_AT_ONCE]
            ]
            await asyncio.wait(ups, timeout=60)
            for up in ups:
                up.cancel()
        since_ms = int(time.time() * 1000) - 1000
        sampler = Sampler(pids)
        watcher = asyncio.create_task(_watch_probes(stack.influx.url, city, tally, stop))
        go.set()
        load_started = time.monotonic()
        key = 0
        while time.monotonic() - load_started < city.duration_s:
            sampler.sample()
            key += 1
            await random.choice(gateways).sos(tally, key)  # noqa: S311
            await asyncio.sleep(city.sos_every_s)
        stop.set()
        load_s = time.monotonic() - load_started
        backlog_at_stop = tally.sent - await _stored(stack.influx.url, since_ms)
        stored, done_at = 0, time.time()
        deadline = time.monotonic() + _DRAIN_S
        while time.monotonic() < deadline:
            sampler.sample()
            stored = await _stored(stack.influx.url, since_ms)
            done_at = time.time()
            if stored >= tally.sent and not tally.sos_sent:
                break
            await asyncio.sleep(0.5)
        closing.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        processes = sampler.figures()
        await watcher
        health = (await stack.api.get("/health")).json() if stack.api else {}
    finally:
        await stack.stop()
        if postgres is not None:
            await asyncio.to_thread(postgres.cleanup)

    # Single-threaded processes saturate at one core; the others at the machine.
    cores = psutil.cpu_count() or 1
    limits = dict.fromkeys(processes, 100.0) | {
        "influxdb": 100.0 * cores,
        "postgresql": 100.0 * cores,
    }
    utilisation = {
        name: round(figures["cpu_pct"] / limits[name], 2)
        for name, figures in processes.items()
        if name != "simulator"
    }
    return {
        "wristbands": city.wristbands,
        "gateways": city.gateways,
        "fleets": city.fleets,
        "duration_s": round(load_s, 1),
        "offered_readings_per_s": round(city.wristbands / city.telemetry_interval_s),
        "readings_sent": tally.sent,
        "readings_stored": stored,
        "readings_per_s": round(stored / max(done_at - tally.first_at, 1e-9)),
        "backlog_at_stop": max(0, backlog_at_stop),
        "lag_p50_s": round(percentile(tally.lags, 50), 3),
        "lag_p99_s": round(percentile(tally.lags, 99), 3),
        "alerts_sent": key,
        "alerts_acked": len(tally.sos_acked),
        "alert_ack_p50_s": round(percentile(tally.sos_acked, 50), 3),
        "alert_ack_p99_s": round(percentile(tally.sos_acked, 99), 3),
        "alert_ack_mean_s": round(statistics.fmean(tally.sos_acked), 3)
        if tally.sos_acked
        else None,
        "broker_connections": tally.connected + city.fleets,
        "processes": processes,
        "utilisation": utilisation,
        "saturates_first": max(utilisation, key=lambda n: utilisation[n]),
        "fleet_influx_pending_lines": health.get("influx_pending_lines"),
        "setup_s": round(setup_s, 1),
    }


def run(city: City, workdir: Path | None = None) -> dict[str, Any]:
    temp = workdir or Path(tempfile.mkdtemp(prefix="sg-sim-city-"))
    try:
        return asyncio.run(_run(city, temp))
    finally:
        if workdir is None:
            with contextlib.suppress(OSError):
                shutil.rmtree(temp)
