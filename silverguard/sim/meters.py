"""The flats' water and electricity meters in the district run (docs/district.md).

Every resident living alone has a water meter and an electricity meter (Modbus RTU,
profiles ``water`` and ``sdm120``) on a simulated RS-485 bus (:class:`PtyBus`, one
pseudo-terminal and one thread per bus) wired to the gateway that covers their
community first. A bus carries at most ``FLATS_PER_BUS`` flats (two Modbus addresses
each, 1-247); a gateway with more gets a second bus. The meters are registered as a
health center registers them, by bulk CSV import; the gateways learn them from the
fleet's pushed config (their ``port`` is the bus's pty).

Consumption follows the flat's day (firmware_mocks/meters/usage.py) on the product
clock. Honest at speed: a gateway polls each meter every ``poll_interval_s(speed)``
product seconds — 60 s as in the product, or 4 wall seconds at speed (1200 s at 300x),
whichever is longer. The whole district polled every 1.8 wall seconds (540 s, just
under the water rule's 600-s gap) kept both cores busy and delayed every event by
hours; so at speed the gateways' routine settings widen ``water_max_gap_s`` and
``stale_after_s`` to match the thinned polls (:func:`routine_at_speed`).
"""

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge.rules.routine_settings import RoutineSettings
from edge.rules.utility import UtilityRules
from edge.rules.water_routine import quantile
from firmware_mocks.meters.modbus_slave import ModbusMeter, water_registers
from firmware_mocks.meters.pty_bus import PtyBus
from firmware_mocks.meters.usage import TAP_M3H, Activity, FlatUsage, MeterTotals
from silverguard.sim.district import District, ResidentPlan

FLATS_PER_BUS = 120  # two addresses a flat: 240 of Modbus's 247
# Days of use the gateways have seen before the run: the routine rules stay quiet for
# warmup_days (7) of a flat's history, so a district that starts fresh could never
# show "no water by the usual time" or "no power use" in a day's run.
HISTORY_DAYS = 9  # the first is partial (installed after the water day began)
WALL_POLL_FLOOR_S = 4.0  # wall seconds between polls of one meter, at least
PRODUCT_POLL_S = 60.0  # the product's default poll interval (contract/meters.py)
COLUMNS: tuple[str, ...] = ("id", "flat", "community_id", "gateway_id", "protocol")
COLUMNS += ("address", "port", "profile", "poll_interval_s", "parity", "offline_after_s")
_RULES = RoutineSettings()


def poll_interval_s(speed: float) -> float:
    """Product seconds between two polls of one meter at this speed."""
    return max(PRODUCT_POLL_S, WALL_POLL_FLOOR_S * speed)


def routine_at_speed(speed: float) -> dict[str, float]:
    """The gateways' ``[routine]`` settings for the thinned polls: two polls may lie up
    to 2.5 intervals apart (a late poll) before the water rule breaks a running span,
    and a meter is stale after three intervals. At real time, the product's defaults."""
    poll = poll_interval_s(speed)
    return {
        "water_max_gap_s": max(_RULES.water_max_gap_s, 2.5 * poll),
        "stale_after_s": max(_RULES.stale_after_s, 3 * poll),
        # The rule also takes the mean rate between two polls as flow; over 20 minutes
        # a flush, a wash and a kettle reach 0.03 m3/h (10 l), and a normal morning
        # read as a running tap (8 false alerts in 120 flat-days). Half a tap's flow
        # tells the two apart at thinned polls.
        "water_min_flow_m3h": (
            _RULES.water_min_flow_m3h if poll <= PRODUCT_POLL_S else TAP_M3H / 2
        ),
    }


def water_running_due_s(speed: float) -> float:
    """Product seconds from a tap left open to the gateway's ``water_running`` event:
    the rule's ``water_running_s`` of unbroken flow, plus up to two polls (the span
    starts at the last poll before the tap opened, and is seen at a poll)."""
    return _RULES.water_running_s + 2 * poll_interval_s(speed)


def no_water_due_s(speed: float) -> float:
    """Product seconds from the flat's usual first water use to the ``no_water`` event:
    the rule's grace, plus up to two polls (the meter must be reporting)."""
    return _RULES.no_water_grace_s + 2 * poll_interval_s(speed)


def no_power_due_s(speed: float, within_s: float = 6 * 3600.0) -> float:
    """Product seconds from the start of an unusual quiet span to ``no_power_use``: the
    promise (``within_s``), plus up to two polls (a window closes at a reading)."""
    return within_s + 2 * poll_interval_s(speed)


class ScriptedFlat(FlatUsage):
    """A flat's use with the script's spans. While the resident lies still (a fall, an
    inactivity incident) they draw no water and switch nothing on; the fridge, standby
    and a tap left open go on. Without this the meters would witness use and the
    gateway would rightly lower the inactivity alert to the digest. A morning without
    water, or an afternoon without power, takes away that utility only."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        # (start, end, water off, power off)
        self.spans: list[tuple[float, float, bool, bool]] = []

    def still(self, start: float, end: float) -> None:
        self.spans.append((start, end, True, True))

    def without(
        self, start: float, end: float, *, water: bool = False, power: bool = False
    ) -> None:
        self.spans.append((start, end, water, power))

    def activities(self, a: float, b: float) -> list[Activity]:
        found = super().activities(a, b)
        for span in self.spans:
            found = [piece for x in found for piece in _cut(x, *span)]
        return [x for x in found if x.end > a and x.start < b]  # pieces outside [a, b)


def _utilities(f: "FlatMeters") -> tuple[tuple[str, str], ...]:
    return ((f.power_id, "electricity"), (f.water_id, "water"))


def _cut(x: Activity, start: float, end: float, water: bool, power: bool) -> list[Activity]:
    if not x.by_resident or x.end <= start or x.start >= end:
        return [x]
    pieces = [
        Activity(s, e, x.power_w, x.flow_m3h)
        for s, e in ((x.start, min(x.end, start)), (max(x.start, end), x.end))
        if e > s
    ]
    inside = Activity(
        max(x.start, start),
        min(x.end, end),
        0.0 if power else x.power_w,
        0.0 if water else x.flow_m3h,
    )
    if inside.power_w or inside.flow_m3h:
        pieces.append(inside)
    return pieces


@dataclass(frozen=True, slots=True)
class FlatMeters:
    resident_id: str
    flat: str
    community_id: str
    gateway: str
    bus: int  # index into DistrictMeters.buses
    power_address: int
    water_address: int

    @property
    def power_id(self) -> str:
        return f"m-{self.flat[2:]}-e"

    @property
    def water_id(self) -> str:
        return f"m-{self.flat[2:]}-w"


def place_meters(district: District) -> list[FlatMeters]:
    """Which bus and addresses each flat of a resident living alone gets (no I/O)."""
    first_gateway = {c.community_id: c.gateways[0] for c in district.communities}
    on_gateway: dict[str, int] = {}
    buses: dict[tuple[str, int], int] = {}
    placed: list[FlatMeters] = []
    for r in district.residents:
        if not r.lives_alone:
            continue
        gateway = first_gateway[r.community_id]
        n = on_gateway.get(gateway, 0)
        on_gateway[gateway] = n + 1
        bus = buses.setdefault((gateway, n // FLATS_PER_BUS), len(buses))
        slot = n % FLATS_PER_BUS
        placed.append(
            FlatMeters(r.id, r.flat, r.community_id, gateway, bus, 2 * slot + 1, 2 * slot + 2)
        )
    return placed


def meters_csv(placed: list[FlatMeters], ports: list[str], interval_s: float) -> bytes:
    """The meters' import file (fleet/registry/meter_import.py's columns)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    # Linux ptys refuse even parity: 8N1 (docs/DESIGN.md). Offline after three polls.
    line = [f"{interval_s:g}", "N", f"{max(300.0, 3 * interval_s):g}"]
    for f in placed:
        port = ports[f.bus]
        common = [f.flat, f.community_id, f.gateway, "modbus"]
        writer.writerow([f.power_id, *common, str(f.power_address), port, "sdm120", *line])
        writer.writerow([f.water_id, *common, str(f.water_address), port, "water", *line])
    return out.getvalue().encode()


class DistrictMeters:
    """The buses and meters of the district, reading the flats' use on product time.

    With ``history_until``, the meters were installed ``HISTORY_DAYS`` before it, and
    :meth:`learned` replays those days through the gateways' own rules.
    """

    def __init__(
        self,
        district: District,
        now: Callable[[], float],
        seed: int,
        *,
        history_until: float | None = None,
    ) -> None:
        self.now = now
        self.placed = place_meters(district)
        self.usage: dict[str, ScriptedFlat] = {}
        self.totals: dict[str, MeterTotals] = {}
        count = max((f.bus for f in self.placed), default=-1) + 1
        self.buses = [PtyBus("modbus", response_delay_s=0.001) for _ in range(count)]
        self.history_until = history_until
        # resident -> the usual time of the morning's first water use, seconds after
        # the water day starts, as the gateway learned it (filled by learned()).
        self.usual_first_use: dict[str, float] = {}
        start = now() if history_until is None else history_until - HISTORY_DAYS * 86400
        for i, f in enumerate(self.placed):
            usage = ScriptedFlat(seed * 1009 + i)
            totals = MeterTotals(usage, start, energy_kwh=1000.0 + i, volume_m3=100.0 + i)
            self.usage[f.resident_id] = usage
            self.totals[f.resident_id] = totals
            bus = self.buses[f.bus]
            bus.add(ModbusMeter(f.power_address, self._reader(totals.electricity)))
            bus.add(ModbusMeter(f.water_address, self._reader(totals.water), water_registers))

    def _reader(self, read: Callable[[float], dict[str, float]]) -> Callable[[], dict[str, float]]:
        return lambda: read(self.now())

    @property
    def ports(self) -> list[str]:
        return [bus.port for bus in self.buses]

    def of(self, resident: ResidentPlan) -> FlatMeters | None:
        return next((f for f in self.placed if f.resident_id == resident.id), None)

    def csv(self, speed: float) -> bytes:
        return meters_csv(self.placed, self.ports, poll_interval_s(speed))

    def learned(self, routine: RoutineSettings, poll_s: float) -> dict[str, dict[str, Any]]:
        """Each gateway's saved routine (its ``routine.json``) after reading its flats'
        meters through the history days, by the gateway's own rules: every ``poll_s``
        (the run's poll interval), or every 10 minutes if that is shorter.

        The registers carry on from there, so a gateway's first live reading continues
        the stream it learned from. Live polls dated before ``history_until`` (the
        setup) read the registers as they stand then, and the rules ignore them as
        older than what they have. Ticks are not replayed: a history day on which the
        rule would have raised "no water" still counts as a usual day (no flat here
        has one; docs/district.md)."""
        if self.history_until is None:
            return {}
        # Read at least every 10 minutes of history (the demo's 2-minute polls would
        # make nine days five times the work), never further apart than the water
        # rule's gap (or every day would count as joined late).
        step = max(poll_s, min(600.0, routine.water_max_gap_s))
        by_gateway: dict[str, list[FlatMeters]] = {}
        for f in self.placed:
            by_gateway.setdefault(f.gateway, []).append(f)
        saved: dict[str, dict[str, Any]] = {}
        for gateway, flats in by_gateway.items():
            rules = UtilityRules(
                gateway,
                {m: (f.flat, u) for f in flats for m, u in _utilities(f)},
                routine,
            )
            for f in flats:  # a flat at a time: its days' plans stay cached
                totals = self.totals[f.resident_id]
                t = totals.t
                while t < self.history_until:
                    rules.on_reading(f.power_id, t, totals.electricity(t))
                    rules.on_reading(f.water_id, t, totals.water(t))
                    t += step
                # The last replayed reading is the history's end: the live ones go on
                # from there within a poll, inside the water rule's gap.
                t = self.history_until
                rules.on_reading(f.power_id, t, totals.electricity(t))
                rules.on_reading(f.water_id, t, totals.water(t))
                water = rules.water.flats[f.flat]
                usual = [s for d, s in water.first_use.items() if d not in water.partial]
                if len(usual) >= routine.warmup_days and usual:
                    self.usual_first_use[f.resident_id] = quantile(usual, routine.no_water_quantile)
            saved[gateway] = {"routine": rules.snapshot(), "last_ok": {}}
        return saved

    def write_learned(
        self, data_dir: Callable[[str], Path], routine: RoutineSettings, poll_s: float
    ) -> int:
        """Write each gateway's learned routine where it loads it at start."""
        saved = self.learned(routine, poll_s)
        for gateway, state in saved.items():
            path = data_dir(gateway) / "routine.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(state, separators=(",", ":")), encoding="utf-8")
        return len(saved)

    def dry_morning_from(self, resident_id: str, day_start: float) -> float | None:
        """When a morning without water would be due for the gateway (product time: the
        water day's start plus the flat's usual first use), if this flat can have one
        scripted: its routine is learned, and no water ran between ``day_start`` and
        the end of the replayed history (what was replayed cannot be taken back)."""
        usual = self.usual_first_use.get(resident_id)
        if usual is None or self.history_until is None:
            return None
        usage = self.usage[resident_id]
        if day_start < self.history_until and usage.volume_m3(day_start, self.history_until) > 0:
            return None
        return day_start + usual

    # -- what residents do ------------------------------------------------------------

    def without(
        self, resident_id: str, start: float, end: float, *, water: bool, power: bool
    ) -> None:
        """From ``start`` to ``end`` the resident uses no water, or no electricity."""
        self.usage[resident_id].without(start, end, water=water, power=power)

    def tap_left_running(self, resident_id: str, start: float, end: float) -> None:
        """A tap left open from ``start`` to ``end`` (product time); the day goes on."""
        self.usage[resident_id].tap_stuck(start, end)

    def lie_still(self, resident_id: str, start: float, end: float) -> None:
        """The resident uses nothing from ``start`` to ``end`` (if their flat has meters)."""
        usage = self.usage.get(resident_id)
        if usage is not None:
            usage.still(start, end)

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        for bus in self.buses:
            bus.start()

    def stop(self) -> None:
        for bus in self.buses:
            bus.stop()


async def register_meters(api: httpx.AsyncClient, meters: DistrictMeters, speed: float) -> int:
    """Register every meter by one bulk CSV import, as a health center does; the
    fleet pushes each gateway its meters (their port is the bus's pty)."""
    response = await api.post(
        "/api/v1/meters/import",
        params={"dry_run": "false"},
        content=meters.csv(speed),
        headers={"Content-Type": "text/csv"},
    )
    if response.status_code >= 300:
        raise RuntimeError(f"meter import: {response.status_code} {response.text[:500]}")
    return int(response.json()["created"])
