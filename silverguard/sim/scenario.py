"""The district's script: the incidents of each simulated day, what must follow each
(ledger expectations), and the wristbands' adverts, all on the product clock.

Honesty at speed (docs/district.md): between incidents a band sends one status advert
every ``SPARSE_S`` of product time instead of every second. Its motion summary then
stands for the whole span since the last advert (the band reports whether the wrist
moved at all in it, as a real band's activity counter does), so a thinned advert is
still "moving" for a resident about the flat. Around every scripted incident and
every button press the band advertises at full rate (``DENSE_S``, bounded by what
the machine can send) from a minute before to ``DENSE_AFTER_S`` after.
"""

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from contract.clock import Clock
from firmware_mocks.air import Air
from firmware_mocks.population import SimulatedBand
from firmware_mocks.routine import Activity, Routine
from firmware_mocks.wristband import Button, MotionSummary, Wristband
from silverguard.sim.district import District, ResidentPlan
from silverguard.sim.ledger import Expected, Reach
from silverguard.sim.meters import (
    DistrictMeters,
    no_power_due_s,
    no_water_due_s,
    water_running_due_s,
)

ZONE = ZoneInfo("Asia/Shanghai")
SPARSE_S = 600.0  # product seconds between status adverts of a quiet band
DENSE_S = 2.0  # product seconds between adverts around an incident (floored in real time)
DENSE_WALL_MIN_S = 0.05
DENSE_AFTER_S = 20 * 60.0
FALL_CONFIRM_S = 30.0  # the gateways' default confirm window (contract/rules.py)
DOSE_GRACE_S = 30 * 60.0  # MedicationSettings.grace_s
# Default escalation: family at once, grid worker after 300 s, duty line after 600 s.
GRID_WORKER_AFTER_S = 300.0
DUTY_LINE_AFTER_S = 600.0
# A notification within this long of when the fleet could first have sent it is "in
# time" (deliveries are polled; at speed a poll is tens of product seconds) ...
SLACK_S = 180.0
# ... plus this much wall time: network latency, reconnects and retries run on real
# time (contract/clock.py), and at 300x one wall second is five product minutes.
WALL_SLACK_S = 5.0
# The fleet's "gateway offline" threshold in wall seconds at speed (at least its
# default 300 product seconds): a broker reconnect takes real seconds, which at speed
# would otherwise read as an outage of many minutes.
OFFLINE_WALL_S = 15.0
# A broker restart: down this many wall seconds (well under the offline threshold).
BROKER_DOWN_WALL_S = 3.0


@dataclass(frozen=True, slots=True)
class Timing:
    """The deadlines of one run, from its speed (docs/district.md)."""

    speed: float

    @property
    def slack_s(self) -> float:
        return SLACK_S + WALL_SLACK_S * self.speed

    @property
    def offline_alert_s(self) -> float:
        return max(300.0, OFFLINE_WALL_S * self.speed)

    @property
    def broker_down_s(self) -> float:
        """How long a scripted broker restart keeps it down: a few wall seconds."""
        return max(60.0, BROKER_DOWN_WALL_S * self.speed)

    @property
    def outage_s(self) -> float:
        """How long a scripted gateway outage lasts: past the threshold, then back."""
        return self.offline_alert_s + 1200.0


class Kind(StrEnum):
    FALL = "fall"
    FALL_CANCELLED = "fall_cancelled"
    SOS = "sos"
    NO_ACK = "caregiver_no_ack"
    MISSED_DOSE = "missed_dose"
    TAKEN_DOSE = "taken_dose"
    INACTIVITY = "inactivity"
    GATEWAY_OFFLINE = "gateway_offline"
    BROKER_RESTART = "broker_restart"
    WATER_RUNNING = "water_running"
    NO_WATER = "no_water"
    NO_POWER = "no_power"


# Incidents per simulated day (a shortened run keeps those that fall inside it).
PER_DAY = {
    Kind.FALL: 3,
    Kind.FALL_CANCELLED: 2,
    Kind.SOS: 3,
    Kind.NO_ACK: 1,
    Kind.MISSED_DOSE: 3,
    Kind.TAKEN_DOSE: 2,
    Kind.INACTIVITY: 2,
    Kind.GATEWAY_OFFLINE: 1,
    Kind.BROKER_RESTART: 1,
    Kind.WATER_RUNNING: 2,
    Kind.NO_WATER: 1,
    Kind.NO_POWER: 1,
}
# What only happens in flats with meters: a run without them leaves these out.
METER_KINDS = frozenset({Kind.WATER_RUNNING, Kind.NO_WATER, Kind.NO_POWER})
# A morning without water: none from the water day's start (04:00) until noon.
DRY_UNTIL_H = 12.0
# An afternoon without power: nothing switched on from noon (after lunch) to 22:00. The
# flat's afternoons are usually busy (TV, cooking), so the gateway's power profile
# sees an unusual span; the alert is promised within six hours of it starting
# (meters.no_power_due_s).
DARK_FROM_H, DARK_UNTIL_H = 12.0, 22.0


@dataclass(order=True)
class Action:
    at: float
    seq: int
    do: Callable[[], None] = field(compare=False)


def local_at(day0: datetime, day: int, hhmm: str) -> float:
    hours, minutes = (int(p) for p in hhmm.split(":"))
    moment = (day0 + timedelta(days=day)).replace(hour=hours, minute=minutes, second=0)
    return moment.timestamp()


@dataclass(slots=True)
class Planned:
    kind: Kind
    at: float
    resident: ResidentPlan | None = None
    gateway: str | None = None
    dose: str | None = None
    day: int = 0


def plan_incidents(
    district: District,
    seed: int,
    start: float,
    end: float,
    timing: Timing,
    *,
    at_home: Callable[[str, float], bool] = lambda _r, _t: True,
    morning: bool = False,
    exclude: frozenset[str] = frozenset(),
    meters: DistrictMeters | None = None,
) -> tuple[list[Planned], dict[tuple[str, str, int], bool]]:
    """The incidents between ``start`` and ``end`` (product time); also which doses are
    skipped: (resident, dose, day) -> False for a missed dose. Residents in ``exclude``
    have a script of their own (silverguard/sim/loop.py)."""
    rng = random.Random(seed * 31 + 7)  # noqa: S311 - a simulation
    day0 = datetime.fromtimestamp(start, ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    days = int((end - day0.timestamp()) // 86400) + 1
    planned: list[Planned] = []
    with_doses = [r for r in district.residents if r.doses]
    for day in range(days):
        used: set[str] = set()

        def someone(
            pool: list[ResidentPlan], at: float | None = None, used: set[str] = used
        ) -> ResidentPlan | None:
            # Incidents happen at home, where the gateways hear the band.
            free = [
                r
                for r in pool
                if r.id not in used and r.id not in exclude and (at is None or at_home(r.id, at))
            ]
            if not free:
                return None
            chosen = rng.choice(free)
            used.add(chosen.id)
            return chosen

        def daytime(first: str = "09:00", last: str = "18:00", day: int = day) -> float:
            low, high = local_at(day0, day, first), local_at(day0, day, last)
            return rng.uniform(low, high)

        for kind, count in PER_DAY.items():
            for _ in range(count):
                if kind is Kind.GATEWAY_OFFLINE:
                    gateway = rng.choice(sorted(district.gateways))
                    planned.append(Planned(kind, daytime("10:00", "16:00"), gateway=gateway))
                    continue
                if kind is Kind.BROKER_RESTART:
                    at = daytime("09:00", "12:00")
                    who = someone(district.residents, at + timing.broker_down_s / 2)
                    if who is not None:
                        planned.append(Planned(kind, at, who))
                    continue
                if kind in (Kind.MISSED_DOSE, Kind.TAKEN_DOSE):
                    resident = someone(with_doses)
                    if resident is None:
                        continue
                    dose = rng.choice(resident.doses)
                    at = local_at(day0, day, dose.time)
                    planned.append(Planned(kind, at, resident, dose=dose.id, day=day))
                    continue
                if kind in (Kind.NO_WATER, Kind.NO_POWER):
                    due = _quiet_flat(
                        kind,
                        meters,
                        day_start=local_at(day0, day, "04:00"),
                        start=start,
                        planned=planned,
                        timing=timing,
                    )
                    resident = someone([r for r in meter_flats(district) if r.id in due])
                    if resident is not None:
                        planned.append(Planned(kind, due[resident.id], resident, day=day))
                    continue
                if kind is Kind.WATER_RUNNING:
                    # A morning tap: its alert (about 1.5 h on) comes inside a short run.
                    at = daytime("08:00", "12:00")
                    # Not on a bus whose gateway a scripted outage stops meanwhile: no
                    # polls, no unbroken span.
                    down = _down_gateways(planned, at, at + tap_open_s(timing), timing)
                    pool = [
                        r for r in meter_flats(district) if meter_gateway(district, r) not in down
                    ]
                    resident = someone(pool, at)
                    if resident is not None:
                        planned.append(Planned(kind, at, resident))
                    continue
                # Still from mid-morning: three hours later it is still the day.
                at = daytime("09:30", "12:00") if kind is Kind.INACTIVITY else daytime()
                resident = someone(district.residents, at)
                if resident is not None:
                    planned.append(Planned(kind, at, resident))
    if morning:  # the demo: something to see in the first minutes
        early = [r for r in district.residents if not r.doses][:3] or district.residents[:3]
        for minutes, kind, resident in zip(
            (4, 8, 12), (Kind.SOS, Kind.FALL, Kind.FALL_CANCELLED), early, strict=False
        ):
            planned.append(Planned(kind, start + 60 * minutes, resident))
    # Only what fits: the alert it calls for must be due before the run ends.
    kept = [p for p in planned if start + 120 <= p.at and p.at + _due_within(p, timing) <= end]
    # While the broker restarts, and while the gateways reconnect after it, only the
    # restart's own SOS is judged: anything else's deadline would include the outage.
    quiet = [
        (p.at - 120, p.at + timing.broker_down_s + 3 * WALL_SLACK_S * timing.speed)
        for p in kept
        if p.kind is Kind.BROKER_RESTART
    ]
    kept = [
        p
        for p in kept
        if p.kind is Kind.BROKER_RESTART or not any(a <= p.at <= b for a, b in quiet)
    ]
    skipped = {
        (p.resident.id, p.dose, p.day): False
        for p in kept
        if p.kind is Kind.MISSED_DOSE and p.resident and p.dose
    }
    return sorted(kept, key=lambda p: p.at), skipped


def dose_presses(
    district: District,
    run: tuple[int, float, float],
    *,
    skipped: dict[tuple[str, str, int], bool],
    at_home: Callable[[str, float], bool],
) -> tuple[list[tuple[float, str]], list[Planned]]:
    """When each resident presses "taken" (at home, 1-15 min after the dose time; later
    if they are out, until the grace ends), and the doses of residents out the whole
    time: the gateways cannot hear them, so those are missed doses the ledger expects.
    ``run``: (seed, start, end)."""
    seed, start, end = run
    rng = random.Random(seed * 13 + 5)  # noqa: S311 - a simulation
    day0 = datetime.fromtimestamp(start, ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    days = int((end - day0.timestamp()) // 86400) + 1
    presses: list[tuple[float, str]] = []
    away: list[Planned] = []
    for r in district.residents:
        for dose in r.doses:
            for day in range(days):
                due = local_at(day0, day, dose.time)
                if skipped.get((r.id, dose.id, day)) is False or not start + 120 <= due <= end:
                    continue
                first = due + rng.uniform(60, 900)
                tries = [
                    first + 60 * k for k in range(int((due + DOSE_GRACE_S - 240 - first) // 60))
                ]
                when = next((t for t in tries if at_home(r.id, t)), None)
                if when is not None:
                    presses.append((when, r.id))
                elif due + DOSE_GRACE_S + 600 <= end:
                    away.append(Planned(Kind.MISSED_DOSE, due, r, dose=dose.id))
    return presses, away


def meter_flats(district: District) -> list[ResidentPlan]:
    """Residents whose flats have meters in the run: those living alone."""
    return [r for r in district.residents if r.lives_alone]


def meter_gateway(district: District, resident: ResidentPlan) -> str:
    """The gateway whose bus the flat's meters hang on: the community's first."""
    return next(
        c.gateways[0] for c in district.communities if c.community_id == resident.community_id
    )


def _down_gateways(planned: list[Planned], start: float, end: float, timing: Timing) -> set[str]:
    return {
        p.gateway
        for p in planned
        if p.kind is Kind.GATEWAY_OFFLINE
        and p.gateway
        and p.at < end
        and p.at + timing.outage_s > start
    }


def _quiet_flat(
    kind: Kind,
    meters: DistrictMeters | None,
    *,
    day_start: float,
    start: float,
    planned: list[Planned],
    timing: Timing,
) -> dict[str, float]:
    """Who may have a morning without water (or an afternoon without power) that day,
    and when it is due: flats whose meters' routine the gateway has learned, on a
    gateway no scripted outage stops meanwhile."""
    if meters is None or meters.history_until is None:
        return {}
    if kind is Kind.NO_WATER:
        if day_start < start and meters.history_until < start:
            # Set-up outran the replayed history: the gateways' stream of readings
            # restarted after the water day began, and they rightly judge nothing today.
            return {}
        window = (day_start, day_start + (DRY_UNTIL_H - 4) * 3600)
    else:
        dark = day_start + (DARK_FROM_H - 4) * 3600
        window = (dark, dark + (DARK_UNTIL_H - DARK_FROM_H) * 3600)
    down = _down_gateways(planned, *window, timing)
    due: dict[str, float] = {}
    for f in meters.placed:
        if f.gateway in down or f.resident_id not in meters.usual_first_use:
            continue
        when = (
            meters.dry_morning_from(f.resident_id, day_start)
            if kind is Kind.NO_WATER
            else window[0]
        )
        if when is not None:
            due[f.resident_id] = when
    return due


def quiet_span(p: Planned) -> tuple[float, float]:
    """The span a morning without water or an afternoon without power lasts."""
    day = datetime.fromtimestamp(p.at, ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    if p.kind is Kind.NO_WATER:
        return (day + timedelta(hours=4)).timestamp(), (
            day + timedelta(hours=DRY_UNTIL_H)
        ).timestamp()
    return (day + timedelta(hours=DARK_FROM_H)).timestamp(), (
        day + timedelta(hours=DARK_UNTIL_H)
    ).timestamp()


def tap_open_s(timing: Timing) -> float:
    """How long a scripted tap stays open: past its alert, then someone closes it."""
    return water_running_due_s(timing.speed) + 1800.0


def script_meters(meters: DistrictMeters, planned: list[Planned], timing: Timing) -> None:
    """The meter incidents, laid into the flats' use ahead of time (it is a plan)."""
    for p in planned:
        r = p.resident
        if r is None:
            continue
        if p.kind is Kind.WATER_RUNNING:
            meters.tap_left_running(r.id, p.at, p.at + tap_open_s(timing))
        elif p.kind in (Kind.NO_WATER, Kind.NO_POWER):
            water = p.kind is Kind.NO_WATER
            meters.without(r.id, *quiet_span(p), water=water, power=not water)
        elif p.kind is Kind.INACTIVITY:  # still until the script has them get up
            meters.lie_still(r.id, p.at, p.at + r.inactivity_s + 1800)
        elif p.kind is Kind.FALL:
            meters.lie_still(r.id, p.at, p.at + 1800)


def _due_within(p: Planned, timing: Timing) -> float:
    slack = timing.slack_s
    if p.kind is Kind.NO_WATER:
        return no_water_due_s(timing.speed) + 2 * slack
    if p.kind is Kind.NO_POWER:
        return no_power_due_s(timing.speed) + 2 * slack
    if p.kind is Kind.WATER_RUNNING:
        return water_running_due_s(timing.speed) + 2 * slack
    if p.kind is Kind.INACTIVITY:
        return (p.resident.inactivity_s if p.resident else 10800) + 1800 + slack
    if p.kind is Kind.MISSED_DOSE:
        return DOSE_GRACE_S + 2 * slack
    if p.kind is Kind.NO_ACK:
        return DUTY_LINE_AFTER_S + 2 * slack
    if p.kind is Kind.GATEWAY_OFFLINE:
        return max(timing.outage_s, timing.offline_alert_s + DUTY_LINE_AFTER_S) + 2 * slack
    if p.kind is Kind.BROKER_RESTART:
        return timing.broker_down_s + timing.offline_alert_s + 2 * slack
    return FALL_CONFIRM_S + 2 * slack


def expectations(p: Planned, district: District, timing: Timing) -> list[Expected]:
    """What must follow one incident; a broker restart also must not raise any
    gateway's "offline" alert (it is back long before the threshold)."""
    if p.kind is not Kind.BROKER_RESTART:
        return [expectation(p, district, timing)]
    r = p.resident
    assert r is not None
    down = timing.broker_down_s
    # The SOS is pressed halfway through; it waits in the gateways' outboxes.
    sos = Expected(
        f"sos while the broker is down {r.id}",
        p.kind,
        r.id,
        p.at + down / 2,
        "sos",
        (Reach((r.caregiver_id,), timing.slack_s + down / 2 + WALL_SLACK_S * timing.speed),),
    )
    quiet = [
        Expected(
            f"broker restart {g}",
            "broker_restart",
            g,
            p.at,
            None,
            forbidden_kind="gateway_offline",
            window_s=down + timing.offline_alert_s + timing.slack_s,
        )
        for g in sorted(district.gateways)
    ]
    return [sos, *quiet]


def expectation(p: Planned, district: District, timing: Timing) -> Expected:
    """What must follow one incident, and by when (product seconds after it)."""
    if p.kind is Kind.GATEWAY_OFFLINE:
        assert p.gateway is not None
        duty = tuple(district.duty_lines[c] for c in district.covers[p.gateway])
        within = timing.offline_alert_s + DUTY_LINE_AFTER_S + timing.slack_s
        return Expected(
            f"{p.kind} {p.gateway}",
            p.kind,
            p.gateway,
            p.at,
            "gateway_offline",
            (Reach(duty, within),),
        )
    r = p.resident
    assert r is not None
    slack = timing.slack_s
    family = Reach((r.caregiver_id,), slack)
    if p.kind is Kind.FALL:
        return Expected(
            f"fall {r.id}", p.kind, r.id, p.at, "fall", (_after(family, FALL_CONFIRM_S),)
        )
    if p.kind is Kind.FALL_CANCELLED:
        return Expected(
            f"cancel {r.id}", p.kind, r.id, p.at, None, forbidden_kind="fall", window_s=1800
        )
    if p.kind is Kind.SOS:
        return Expected(f"sos {r.id}", p.kind, r.id, p.at, "sos", (family,))
    if p.kind is Kind.NO_ACK:
        reach = (
            family,
            Reach((district.grid_worker(r),), GRID_WORKER_AFTER_S + slack),
            Reach((district.duty_lines[r.community_id],), DUTY_LINE_AFTER_S + slack),
        )
        return Expected(f"no-ack {r.id}", p.kind, r.id, p.at, "sos", reach)
    if p.kind is Kind.MISSED_DOSE:
        return Expected(
            f"missed {r.id} {p.dose}",
            p.kind,
            r.id,
            p.at,
            "missed_dose",
            (_after(family, DOSE_GRACE_S),),
        )
    if p.kind is Kind.TAKEN_DOSE:
        return Expected(
            f"taken {r.id} {p.dose}",
            p.kind,
            r.id,
            p.at,
            None,
            forbidden_kind="missed_dose",
            window_s=7200,
        )
    if p.kind is Kind.NO_WATER:
        # Due at the flat's usual first use; the rule waits its grace, seen at a tick.
        due = _after(family, no_water_due_s(timing.speed))
        return Expected(f"no water {r.id}", p.kind, r.id, p.at, "no_water", (due,))
    if p.kind is Kind.NO_POWER:
        due = _after(family, no_power_due_s(timing.speed))
        return Expected(f"no power {r.id}", p.kind, r.id, p.at, "no_power_use", (due,))
    if p.kind is Kind.WATER_RUNNING:
        # The gateway's rule: water_running_s of unbroken flow, seen at a poll.
        return Expected(
            f"tap running {r.id}",
            p.kind,
            r.id,
            p.at,
            "water_running",
            (_after(family, water_running_due_s(timing.speed)),),
        )
    return Expected(
        f"inactive {r.id}",
        p.kind,
        r.id,
        p.at,
        "inactivity",
        (_after(family, r.inactivity_s + 1200),),
    )


def _after(reach: Reach, extra_s: float) -> Reach:
    return Reach(reach.contacts, reach.within_s + extra_s)


class Bands:
    """The district's wristbands on the air, advertising on the product clock."""

    def __init__(self, district: District, air: Air, clock: Clock, seed: int) -> None:
        self.air = air
        self.clock = clock
        born = clock.now()
        self.sims: dict[str, SimulatedBand] = {}
        self.of_resident: dict[str, SimulatedBand] = {}
        for i, r in enumerate(district.residents):
            rng = random.Random(seed * 7919 + i)  # noqa: S311 - a simulation
            band = Wristband(r.mac, r.key, counter=rng.randrange(1, 1000))
            sim = SimulatedBand(
                band,
                r.home[0],
                r.home[1],
                rng,
                routine=Routine(seed * 7919 + i),
                battery_start=rng.uniform(60, 100),
                born=born,
            )
            self.sims[r.mac] = sim
            self.of_resident[r.id] = sim
        self.dense_until: dict[str, float] = {}
        self.adverts = 0
        now = clock.now()
        rng = random.Random(seed)  # noqa: S311
        self._due = [(now + rng.uniform(0, SPARSE_S), mac) for mac in self.sims]
        heapq.heapify(self._due)
        self._last: dict[str, float] = dict.fromkeys(self.sims, now)

    def dense(self, mac: str, until: float) -> None:
        """Full advert rate for this band until ``until`` (product time)."""
        self.dense_until[mac] = max(self.dense_until.get(mac, 0.0), until)
        heapq.heappush(self._due, (self.clock.now(), mac))

    def _thinned_motion(self, sim: SimulatedBand, now: float, span_s: float) -> MotionSummary:
        if sim.lying_since is not None or not sim.worn:
            return MotionSummary(peak_g=1.0 + sim.rng.random() * 0.02, tilt_deg=2.0, moving=False)
        activity = sim.activity(now)
        per_second = {Activity.SLEEP: 0.03, Activity.WALKING: 0.8, Activity.BATHROOM: 0.8}
        p = per_second.get(activity, 0.2)
        moved = sim.rng.random() < 1.0 - (1.0 - p) ** max(1.0, span_s)
        return MotionSummary(
            1.0 + (0.3 if moved else 0.02) * sim.rng.random(), sim.rng.uniform(-35, 15), moved
        )

    def step(self, now: float) -> None:
        """Send every advert due by ``now``."""
        dense_step = max(DENSE_S, self.clock.speed * DENSE_WALL_MIN_S)
        while self._due and self._due[0][0] <= now:
            _, mac = heapq.heappop(self._due)
            sim = self.sims[mac]
            dense = self.dense_until.get(mac, 0.0) > now
            span = now - self._last[mac]
            if span <= 0:
                continue
            if not dense and sim.forced is None:
                sim.forced = self._thinned_motion(sim, now, span)
            sim.advertise(self.air, now)
            self._last[mac] = now
            self.adverts += 1
            interval = dense_step if dense else SPARSE_S * sim.rng.uniform(0.9, 1.1)
            heapq.heappush(self._due, (now + interval, mac))

    def at_home(self, resident_id: str, at: float) -> bool:
        """Whether the resident is within the gateways' range at ``at`` (their routine)."""
        return self.of_resident[resident_id].in_range(at)

    # -- what residents do ------------------------------------------------------------

    def press(self, resident_id: str, button: Button) -> None:
        sim = self.of_resident[resident_id]
        sim.band.press(button)
        now = self.clock.now()
        sim.advertise(self.air, now)
        self._last[sim.band.mac] = now
        self.dense(sim.band.mac, now + 120)

    def fall(self, resident_id: str) -> None:
        sim = self.of_resident[resident_id]
        now = self.clock.now()
        sim.forced = MotionSummary(peak_g=3.2, tilt_deg=-10.0, moving=True)
        sim.lying_since = now
        sim.band.flag_fall()
        sim.advertise(self.air, now)
        self._last[sim.band.mac] = now
        self.dense(sim.band.mac, now + DENSE_AFTER_S)

    def lie_still(self, resident_id: str) -> None:
        self.of_resident[resident_id].lying_since = self.clock.now()

    def get_up(self, resident_id: str) -> None:
        sim = self.of_resident[resident_id]
        sim.lying_since = None
        sim.forced = MotionSummary(peak_g=1.4, tilt_deg=-50.0, moving=True)
        self.dense(sim.band.mac, self.clock.now() + 120)
