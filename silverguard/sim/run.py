"""``silverguard sim district``: the seed district on the real stack, for simulated days,
with the scenario ledger checked at the end (docs/district.md).

Every process — the fleet, the gateways, the bands driven from here — reads product
time from one :class:`ScaledClock` setting, so simulated time runs ``--speed`` times
faster than wall time everywhere; nothing waits by sleeping in simulated time.
"""

import asyncio
import contextlib
import heapq
import inspect
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from contract.clock import ScaledClock
from firmware_mocks.air import RadioModel
from firmware_mocks.wristband import Button
from fleet.risk.scheduler import EVERY_S as RISK_EVERY_S
from fleet.risk.scheduler import MIN_WALL_S as RISK_MIN_WALL_S
from silverguard.sim import digests, ledger, loop
from silverguard.sim.district import (
    ChannelOf,
    District,
    caregivers_csv,
    residents_csv,
    wristbands_csv,
)
from silverguard.sim.meters import DistrictMeters
from silverguard.sim.receiver import Received, Receiver
from silverguard.sim.resources import Resources
from silverguard.sim.scenario import (
    DENSE_AFTER_S,
    DOSE_GRACE_S,
    METER_KINDS,
    ZONE,
    Bands,
    Kind,
    Planned,
    Timing,
    dose_presses,
    expectations,
    plan_incidents,
    script_meters,
)
from silverguard.sim.stack import GatewaySpec, Stack

# The wall seconds the stack takes to come up (servers, registry, gateways): the clock
# starts this much before 06:00 of the simulated day so the run begins near dawn.
SETUP_ESTIMATE_S = 45.0
# One telemetry batch per gateway each simulated minute (the product's default is 10
# s): at 300x that is one every 0.2 wall s, each with a band's latest reading. Every
# 5 s (floored at 50 ms of wall time) gave each gateway 20 batches a wall second,
# each three fsynced outbox writes, a TLS publish and a fleet-side coverage check:
# about half of the machine, and the fleet's event intake queued behind it.
TELEMETRY_INTERVAL_S = 60.0
_ACK_LINK = re.compile(r"https?://\S+/ack/\S+")

Say = Callable[[str], None]


@dataclass(slots=True)
class Options:
    district: District
    seed: int
    days: float
    speed: float
    workdir: Path
    say: Say
    status_every_s: float = 3 * 3600.0  # product seconds between status lines
    duration_s: float | None = None  # stop after this many wall seconds
    narrate: bool = False  # tell each incident and each message as it happens
    morning: bool = False  # an SOS, a fall and a cancelled fall in the first minutes
    meters: DistrictMeters | None = None  # the flats' meters (silverguard/sim/meters.py)


@dataclass(slots=True)
class Outcome:
    result: ledger.LedgerResult
    summary: dict[str, Any]
    table: str
    processes: list[tuple[str, float, float]] = field(default_factory=list)  # name, cpu, rss


def make_clock(speed: float, start_wall: float, start: str = "06:00") -> ScaledClock:
    """A clock that reaches ``start`` (local, tomorrow) about when the stack is up."""
    hours, minutes = (int(p) for p in start.split(":"))
    tomorrow = datetime.fromtimestamp(start_wall, ZONE) + timedelta(days=1)
    dawn = tomorrow.replace(hour=hours, minute=minutes, second=0, microsecond=0).timestamp()
    return ScaledClock(dawn - SETUP_ESTIMATE_S * speed, start_wall, speed)


def dawn(clock: ScaledClock) -> float:
    """When :func:`make_clock`'s clock expects the district to be up (product time)."""
    return clock.start + SETUP_ESTIMATE_S * clock.speed


_TELL = {
    Kind.FALL: "falls and lies still / 跌倒",
    Kind.FALL_CANCELLED: "falls, then presses the button to cancel / 跌倒后按键取消",
    Kind.SOS: "holds the SOS button / 长按求救",
    Kind.NO_ACK: "holds the SOS button; the family will not answer / 求救，家属未应答",
    Kind.MISSED_DOSE: "does not take the dose / 未按时服药",
    Kind.TAKEN_DOSE: "takes the dose and presses 'taken' / 已服药",
    Kind.INACTIVITY: "stops moving / 长时间不动",
    Kind.GATEWAY_OFFLINE: "loses power / 网关断电",
    Kind.BROKER_RESTART: "— the broker restarts; an SOS while it is down / 消息服务器重启",
    Kind.WATER_RUNNING: "leaves a tap running / 水龙头未关",
    Kind.NO_WATER: "uses no water this morning (due now) / 今晨未用水",
    Kind.NO_POWER: "uses no electricity from noon / 午后未用电",
}


def tell(p: Planned) -> str:
    who = f"gateway {p.gateway}" if p.gateway else f"resident {p.resident.id if p.resident else ''}"
    return f"{local_text(p.at)}  {who} {_TELL[p.kind]}"


def local_text(at: float) -> str:
    return datetime.fromtimestamp(at, ZONE).strftime("%m-%d %H:%M:%S")


async def _ok(api: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    response = await api.request(method, path, **kw)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
    return response.json() if response.content else None


async def _import(api: httpx.AsyncClient, kind: str, body: bytes) -> int:
    answer = await _ok(
        api,
        "POST",
        f"/api/v1/{kind}/import",
        params={"dry_run": "false"},
        content=body,
        headers={"Content-Type": "text/csv"},
    )
    return int(answer["created"])


async def load_registry(stack: Stack, district: District, receiver: Receiver, say: Say) -> None:
    """The registry as a health center loads it: places one by one (there are few),
    people and bands by bulk CSV import."""
    api = stack.api
    assert api is not None
    for town, name in district.towns.items():
        await _ok(api, "POST", "/api/v1/towns", json={"id": town, "name": name})
    for c in district.communities:
        body = {"id": c.community_id, "town_id": c.town_id, "name": c.community_name}
        await _ok(api, "POST", "/api/v1/communities", json=body)
    channel = ChannelOf(receiver.url("").rstrip("/"))
    created = await _import(api, "caregivers", caregivers_csv(district, channel))
    say(
        f"registry: {len(district.communities)} communities; {created} caregivers, grid workers and duty lines imported"
    )
    for grid, (community, worker) in district.grids.items():
        body = {"id": grid, "community_id": community, "name": grid, "worker_id": worker}
        await _ok(api, "POST", "/api/v1/grids", json=body)
    for community, contact in district.duty_lines.items():
        await _ok(
            api, "PUT", f"/api/v1/communities/{community}/duty-line", json={"contact_id": contact}
        )
    created = await _import(api, "residents", residents_csv(district))
    say(f"registry: {created} residents with care plans imported (CSV)")
    created = await _import(api, "wristbands", wristbands_csv(district))
    say(f"registry: {created} wristbands imported (CSV)")


# Thinned adverts (one per 10 simulated minutes) make "not seen for 30 minutes" three
# lost adverts; the district's gateways wait three hours (docs/district.md).
SIM_RULES = {"device": {"not_seen_s": 3 * 3600.0}}


async def start_gateways(stack: Stack, district: District, say: Say) -> None:
    assert stack.api is not None
    for gateway, covers in district.covers.items():
        await stack.enroll_gateway(gateway, covers)
        await _ok(stack.api, "PATCH", f"/api/v1/gateways/{gateway}", json={"rules": SIM_RULES})
    say(f"gateways: {len(district.covers)} enrolled (one-time tokens, own keys, broker accounts)")
    await asyncio.gather(*(stack.start_gateway(g) for g in district.covers))
    for g in district.covers:
        await stack.wait_gateway_connected(g, timeout=60)
    assert stack.api is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rows = [await _ok(stack.api, "GET", f"/api/v1/gateways/{g}") for g in district.covers]
        if all(r.get("config_in_sync") and r.get("reported_ok") for r in rows):
            break
        await asyncio.sleep(0.5)
    else:
        say("warning: not every gateway reported its config applied; see the gateway logs")
    say(f"gateways: {len(district.covers)} running, each with its bands' keys sealed to it")


class Phones:
    """The caregivers' phones: each message's acknowledge link is tapped, except by the
    people a scripted "never acknowledges" incident keeps silent."""

    def __init__(self, receiver: Receiver, clock: ScaledClock, seed: int = 1) -> None:
        self.receiver = receiver
        self.clock = clock
        self.field = loop.FieldWork(seed)  # what the person does once a task is theirs
        self.seen = 0
        # contact -> (from, until): product times between which they ignore messages
        self.silent: dict[str, tuple[float, float]] = {}
        self.http = httpx.AsyncClient(timeout=10)
        self.tasks: set[asyncio.Task[None]] = set()
        self.acks = 0

    def product(self, wall: float) -> float:
        return self.clock.start + (wall - self.clock.wall_start) * self.clock.speed

    def arrivals(self) -> dict[str, list[float]]:
        got: dict[str, list[float]] = {}
        for r in self.receiver.delivered():
            got.setdefault(r.path.strip("/"), []).append(self.product(r.at))
        return got

    def messages(self) -> list[tuple[str, float, str]]:
        """(contact, product time, title and text) of every message the phones got."""
        return [
            (
                r.path.strip("/"),
                self.product(r.at),
                f"{r.body.get('title', '')}\n{r.body.get('message', '')}",
            )
            for r in self.receiver.delivered()
        ]

    def step(self) -> list[Received]:
        delivered = self.receiver.delivered()
        new = delivered[self.seen :]
        self.seen = len(delivered)
        for request in new:
            contact = request.path.strip("/")
            since, until = self.silent.get(contact, (0.0, 0.0))
            if since <= self.product(request.at) < until:
                continue
            message = str(request.body.get("message", ""))
            self.field.heard(contact, message, self.product(request.at))
            match = _ACK_LINK.search(message)
            if match is not None:
                task = asyncio.create_task(self._ack(match[0]))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        return new

    async def _ack(self, link: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            if (await self.http.post(link)).status_code == 200:
                self.acks += 1

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.http.aclose()
        await self.field.close()


def _actions(
    planned: list[Planned],
    *,
    district: District,
    bands: Bands,
    stack: Stack,
    phones: Phones,
    presses: list[tuple[float, str]],
    start: float,
    end: float,
    outage_s: float,
    broker_down_s: float,
) -> list[tuple[float, int, Callable[[], Awaitable[None] | None]]]:
    actions: list[tuple[float, int, Callable[[], Awaitable[None] | None]]] = []

    def at(t: float, do: Callable[[], Awaitable[None] | None]) -> None:
        if start <= t <= end:
            actions.append((t, len(actions), do))

    for p in planned:
        r = p.resident
        if p.kind is Kind.FALL and r:
            at(p.at, partial(bands.fall, r.id))
            at(p.at + 1800, partial(bands.get_up, r.id))
        elif p.kind is Kind.FALL_CANCELLED and r:
            at(p.at, partial(bands.fall, r.id))
            at(p.at + 8, partial(bands.press, r.id, Button.SHORT))
            at(p.at + 60, partial(bands.get_up, r.id))
        elif p.kind in (Kind.SOS, Kind.NO_ACK) and r:
            if p.kind is Kind.NO_ACK:
                window = (p.at - 60, p.at + 3600)
                phones.silent[r.caregiver_id] = window
                phones.silent[district.grid_worker(r)] = window
            at(p.at, partial(bands.press, r.id, Button.LONG))
        elif p.kind is Kind.INACTIVITY and r:
            at(p.at, partial(bands.lie_still, r.id))
            at(p.at + r.inactivity_s + 1800, partial(bands.get_up, r.id))
        elif p.kind is Kind.GATEWAY_OFFLINE and p.gateway:
            at(p.at, partial(stack.kill_gateway, p.gateway))
            at(p.at + outage_s, partial(stack.start_gateway, p.gateway))
        elif p.kind is Kind.BROKER_RESTART and r:
            at(p.at, stack.stop_broker)
            at(p.at + broker_down_s / 2, partial(bands.press, r.id, Button.LONG))
            at(p.at + broker_down_s, stack.start_broker)
    for when, resident_id in presses:
        at(when, partial(bands.press, resident_id, Button.SHORT))
    return actions


async def simulate(stack: Stack, opts: Options, clock: ScaledClock, receiver: Receiver) -> Outcome:
    district = opts.district
    ready = clock.now()
    end = ready + opts.days * 86400
    if opts.duration_s is not None:
        end = min(end, ready + opts.duration_s * opts.speed)
    bands = Bands(district, stack.air, clock, opts.seed)
    timing = Timing(opts.speed)
    drift = loop.plan_drift(
        district,
        opts.seed,
        ready,
        end,
        evaluated_every_s=max(RISK_EVERY_S, RISK_MIN_WALL_S * opts.speed),
        grace_s=DOSE_GRACE_S,
        slack_s=timing.slack_s,
    )
    troubles = digests.plan(
        district,
        opts.seed,
        ready,
        end,
        slack_s=timing.slack_s,
        at_home=bands.at_home,
        exclude=drift.residents,
    )
    planned, skipped = plan_incidents(
        district,
        opts.seed,
        ready,
        end,
        timing,
        at_home=bands.at_home,
        morning=opts.morning,
        exclude=drift.residents | {t.resident.id for t in troubles},
        meters=opts.meters,
    )
    for m in drift.missed:
        planned.append(Planned(Kind.MISSED_DOSE, m.at, m.resident, dose=m.dose, day=0))
        skipped[(m.resident.id, m.dose, 0)] = False
    planned.sort(key=lambda p: p.at)
    await write_history(stack, drift)
    presses, away = dose_presses(
        district, (opts.seed, ready, end), skipped=skipped, at_home=bands.at_home
    )
    if opts.meters is not None:
        script_meters(opts.meters, planned, timing)
    else:  # no meters, no meter incidents
        planned = [p for p in planned if p.kind not in METER_KINDS]
    expected = [e for p in [*planned, *away] for e in expectations(p, district, timing)]
    phones = Phones(receiver, clock, opts.seed)
    actions = _actions(
        planned,
        district=district,
        bands=bands,
        stack=stack,
        phones=phones,
        presses=presses,
        start=ready,
        end=end,
        outage_s=timing.outage_s,
        broker_down_s=timing.broker_down_s,
    )
    for t in troubles:
        actions += _trouble_actions(t, bands, len(actions))
    # Full advert rate from a minute before each incident.
    for p in planned:
        if p.resident is not None:
            mac = p.resident.mac
            actions.append(
                (p.at - 60, len(actions), partial(bands.dense, mac, p.at + DENSE_AFTER_S))
            )
    if opts.narrate:
        for p in planned:
            actions.append((p.at, len(actions), partial(opts.say, tell(p))))
    heapq.heapify(actions)
    opts.say(
        f"simulated time {local_text(ready)} → {local_text(end)} at {opts.speed:g}x: "
        f"{len(planned)} scripted incidents, {len(district.residents)} residents"
    )
    resources = Resources()
    wall_start = time.monotonic()
    next_status = ready + opts.status_every_s
    pending: set[asyncio.Task[Any]] = set()
    try:
        while (now := clock.now()) < end:
            while actions and actions[0][0] <= now:
                _, _, do = heapq.heappop(actions)
                started = do()
                if inspect.isawaitable(started):
                    task = asyncio.ensure_future(started)
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            bands.step(now)
            phones.field.step(now)
            for request in phones.step():
                if opts.narrate:
                    opts.say(f"{local_text(phones.product(request.at))}  {_heard(request)}")
            resources.sample()
            if now >= next_status:
                next_status += opts.status_every_s
                done = sum(1 for p in planned if p.at <= now)
                opts.say(
                    f"{local_text(now)}  adverts {bands.adverts}, incidents {done}/{len(planned)}, "
                    f"notifications {len(receiver.delivered())}, acknowledged {phones.acks}"
                )
            await asyncio.sleep(0.02)
        if pending:
            await asyncio.wait(pending, timeout=60)
        # Let the last notifications arrive (deliveries are retried on real time).
        await asyncio.sleep(2.0)
        phones.step()
        resources.sample()
        alerts = await read_alerts(stack, clock)
        loop_figures = await read_loop(stack, drift, phones.field, (ready, end))
    finally:
        await phones.close()
    result = ledger.reconcile(expected, alerts, phones.arrivals())
    messages = phones.messages()
    result.judged += [digests.judge(t, timing.slack_s, messages) for t in troubles]
    resident_days = len(district.residents) * (end - ready) / 86400
    summary = result.summary(resident_days)
    summary["wall_s"] = round(time.monotonic() - wall_start, 1)
    summary["peak_rss_mb"] = resources.peak_rss_mb()
    summary["cpu_s"] = resources.cpu_s()
    summary["adverts"] = bands.adverts
    found = loop_figures.pop("risk_tags_found_list")
    summary.update(loop_figures)
    table = ledger.table(result, local_text)
    if drift.expected:
        table += "\n" + _tag_table(drift, found)
    return Outcome(result, summary, table, resources.table())


def _trouble_actions(
    t: digests.Planned, bands: Bands, seq: int
) -> list[tuple[float, int, Callable[[], Awaitable[None] | None]]]:
    sim = bands.of_resident[t.resident.id]

    def off() -> None:
        sim.worn = False

    def on() -> None:
        sim.worn = True

    def running_flat() -> None:
        sim.drain_pct_per_day = digests.FLAT_DRAIN_PCT_PER_DAY
        sim.battery_start = digests.battery_start_for(t.at, sim.born)

    if t.trouble is digests.Trouble.NOT_WORN:
        return [(t.at, seq, off), (t.at + digests.OFF_WRIST_S, seq + 1, on)]
    return [(t.at, seq, running_flat)]


def _tag_table(drift: loop.Drift, found: list[tuple[str, str]]) -> str:
    return "\n".join(
        f"{local_text(e.by):<17} {'risk tag':<16} {e.resident:<16} "
        f"{'found' if (e.resident, e.tag) in found else 'missing':<16} {e.tag}"
        for e in drift.expected
    )


async def write_history(stack: Stack, drift: loop.Drift) -> None:
    """The drifting residents' previous weeks, into the time series the fleet reads."""
    if not drift.history:
        return
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(f"{stack.influx.url}/query", data={"q": "CREATE DATABASE silverguard"})
        response = await http.post(
            f"{stack.influx.url}/write",
            params={"db": "silverguard", "precision": "ms"},
            content=loop.history_lines(drift.history),
        )
        if response.status_code >= 300:
            raise RuntimeError(f"InfluxDB refused the history: {response.text[:300]}")


async def read_loop(
    stack: Stack, drift: loop.Drift, field: loop.FieldWork, span: tuple[float, float]
) -> dict[str, Any]:
    """On-site times the fleet measured, and the drifting residents' tags."""
    assert stack.api is not None
    first, last = (datetime.fromtimestamp(t, ZONE).date().isoformat() for t in span)
    arrival = await _ok(
        stack.api, "GET", "/api/v1/dispatch/arrival", params={"start": first, "end": last}
    )
    figures: dict[str, Any] = loop.on_site_figures(arrival, len(field.checked_in))
    held = {
        e.resident: (await _ok(stack.api, "GET", f"/api/v1/risk/residents/{e.resident}"))["tags"]
        for e in drift.expected
    }
    found = [(e.resident, e.tag) for e in drift.expected if loop.tags_found([e], held)]
    figures["risk_tags_expected"] = len(drift.expected)
    figures["risk_tags_found"] = len(found)
    figures["risk_tags_missing"] = len(drift.expected) - len(found)
    figures["risk_tags_found_list"] = found
    return figures


def _heard(request: Received) -> str:
    """A message on a phone in one plain line: whose phone, the title."""
    title = str(request.body.get("title", "")).replace("\n", " ")
    return f"phone of {request.path.strip('/')}: {title[:90]}"


def _product(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).timestamp()


async def read_alerts(stack: Stack, clock: ScaledClock) -> list[ledger.AlertSeen]:
    """Every alert with its deliveries, through the fleet's API."""
    assert stack.api is not None
    rows = await _ok(stack.api, "GET", "/api/v1/alerts", params={"limit": 1000})
    seen: list[ledger.AlertSeen] = []
    for row in rows:
        detail = await _ok(stack.api, "GET", f"/api/v1/alerts/{row['id']}")
        deliveries = tuple(
            ledger.Delivery(
                d["contact"],
                _product(d["sent_at"]) if d["status"] == "sent" else None,
                d["status"],
            )
            for d in detail["deliveries"]
        )
        opened = _product(row["opened_at"])
        assert opened is not None
        seen.append(
            ledger.AlertSeen(
                row["id"], row["kind"], row["resident_id"] or row["device"], opened, deliveries
            )
        )
    return seen


def make_stack(
    district: District, workdir: Path, clock: ScaledClock, database_url: str = ""
) -> Stack:
    specs = [GatewaySpec(g, pos) for g, pos in district.gateways.items()]
    stack = Stack(
        workdir,
        specs,
        radio=RadioModel(loss_rate=0.02),
        bands_in_settings=False,
        telemetry_interval_s=TELEMETRY_INTERVAL_S,
        fleet_settings={
            "clock": clock.setting(),
            "log_level": "WARNING",
            "gateway_offline_alert_s": Timing(clock.speed).offline_alert_s,
            # The day's digest in the evening, so a day's run sees it (default 09:00).
            "digest_time": digests.DIGEST_TIME,
            **({"database_url": database_url} if database_url else {}),
        },
    )
    for g in district.gateways:
        stack.gateway_extra[g] = {"clock": clock.setting(), "status_interval_s": 2.0}
    return stack
