"""A flat's electricity and water use through the day, for meter simulators and rule tests.

Deterministic: each local day's plan comes from ``seed`` and the date, so a test can
replay any week. Times are Unix seconds; the routine is laid out in local time.

The routine of an elderly resident living alone: up around 06:30 (toilet, washing,
kettle, breakfast), TV in the morning on most days, lunch cooked around 11:00, a nap,
TV in the afternoon, dinner around 17:30, lights and TV in the evening, a shower every
other evening with the electric water heater, bed around 21:45, a toilet visit or two
at night. Underneath, the fridge cycles day and night (90 W, 14 minutes in every 40)
and appliances on standby draw 8 W.

Incidents change the plan from a moment on: :meth:`FlatUsage.fall` — the resident
stops using anything (the fridge goes on) and, if they fell in the bathroom with the
tap open, water keeps running; :meth:`FlatUsage.tap_stuck` — a tap left running
while the resident otherwise carries on.
"""

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

FRIDGE_W = 90.0
FRIDGE_PERIOD_S = 2400.0
FRIDGE_ON_S = 840.0
STANDBY_W = 8.0

TAP_M3H = 0.3  # a kitchen or basin tap, about 5 litres a minute
FLUSH_M3H = 0.36  # a 6-litre cistern refilling in a minute
SHOWER_M3H = 0.48  # 8 litres a minute


@dataclass(frozen=True, slots=True)
class Activity:
    start: float
    end: float
    power_w: float = 0.0
    flow_m3h: float = 0.0
    by_resident: bool = True  # stops when the resident cannot act any more

    def overlap(self, a: float, b: float) -> float:
        return max(0.0, min(self.end, b) - max(self.start, a))


def _fridge_on_seconds(t: float) -> float:
    """Seconds the fridge compressor has run from t=0 to t (it starts each period on)."""
    periods, phase = divmod(t, FRIDGE_PERIOD_S)
    return periods * FRIDGE_ON_S + min(phase, FRIDGE_ON_S)


class FlatUsage:
    def __init__(self, seed: int = 1, tz: str = "Asia/Shanghai") -> None:
        self.seed = seed
        self.tz = ZoneInfo(tz)
        self._incidents: list[Activity] = []
        self._stopped_at: float | None = None  # the resident can no longer act

    # -- incidents ---------------------------------------------------------------------

    def fall(self, at: float, *, tap_left_running: bool = False) -> None:
        """From ``at`` the resident uses nothing; water runs on if the tap was open."""
        self._stopped_at = at
        if tap_left_running:
            self._incidents.append(Activity(at, math.inf, flow_m3h=TAP_M3H, by_resident=False))

    def tap_stuck(self, start: float, end: float) -> None:
        self._incidents.append(Activity(start, end, flow_m3h=TAP_M3H, by_resident=False))

    # -- the routine -------------------------------------------------------------------

    def _at(self, day: date, hours: float) -> float:
        midnight = datetime.combine(day, time(0), self.tz)
        return (midnight + timedelta(hours=hours)).timestamp()

    def plan(self, day: date) -> tuple[Activity, ...]:
        return _plan(self.seed, self.tz.key, day)

    def activities(self, a: float, b: float) -> list[Activity]:
        """Everything that overlaps [a, b), with the incidents applied."""
        # A day's plan can run past midnight (night visits are planned with the day).
        first = datetime.fromtimestamp(a, self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(b, self.tz).date()
        found: list[Activity] = []
        day = first
        while day <= last:
            found += [x for x in self.plan(day) if x.end > a and x.start < b]
            day += timedelta(days=1)
        if self._stopped_at is not None:
            stop = self._stopped_at
            found = [
                Activity(x.start, min(x.end, stop), x.power_w, x.flow_m3h)
                for x in found
                if x.start < stop and min(x.end, stop) > a
            ]
        return found + [x for x in self._incidents if x.end > a and x.start < b]

    def power_w(self, t: float) -> float:
        fridge = FRIDGE_W if (t % FRIDGE_PERIOD_S) < FRIDGE_ON_S else 0.0
        return STANDBY_W + fridge + sum(x.power_w for x in self.activities(t, t + 1e-6))

    def flow_m3h(self, t: float) -> float:
        return sum(x.flow_m3h for x in self.activities(t, t + 1e-6))

    def energy_kwh(self, a: float, b: float) -> float:
        """Energy drawn over [a, b), exactly (piecewise constant loads)."""
        joules = STANDBY_W * (b - a)
        joules += FRIDGE_W * (_fridge_on_seconds(b) - _fridge_on_seconds(a))
        joules += sum(x.power_w * x.overlap(a, b) for x in self.activities(a, b))
        return joules / 3.6e6

    def volume_m3(self, a: float, b: float) -> float:
        return sum(x.flow_m3h * x.overlap(a, b) for x in self.activities(a, b)) / 3600.0


class MeterTotals:
    """A flat's two meter registers, advanced as time goes on (never backwards)."""

    def __init__(
        self,
        usage: FlatUsage,
        start: float,
        *,
        energy_kwh: float = 1234.5,
        volume_m3: float = 321.0,
    ) -> None:
        self.usage = usage
        self.t = start
        self.energy = energy_kwh
        self.volume = volume_m3
        self._power_w = usage.power_w(start)
        self._flow_m3h = usage.flow_m3h(start)

    def advance(self, t: float) -> None:
        if t <= self.t:
            return
        # One pass over the activities for the totals and the rates at t: simulated
        # months of minute-by-minute readings stay fast.
        u = self.usage
        acts = u.activities(self.t, t + 1e-6)
        joules = STANDBY_W * (t - self.t)
        joules += FRIDGE_W * (_fridge_on_seconds(t) - _fridge_on_seconds(self.t))
        joules += sum(x.power_w * x.overlap(self.t, t) for x in acts)
        self.energy += joules / 3.6e6
        self.volume += sum(x.flow_m3h * x.overlap(self.t, t) for x in acts) / 3600.0
        now = [x for x in acts if x.start <= t < x.end]
        fridge = FRIDGE_W if (t % FRIDGE_PERIOD_S) < FRIDGE_ON_S else 0.0
        self._power_w = STANDBY_W + fridge + sum(x.power_w for x in now)
        self._flow_m3h = sum(x.flow_m3h for x in now)
        self.t = t

    def electricity(self, t: float) -> dict[str, float]:
        self.advance(t)
        return {
            "energy_kwh": self.energy,
            "power_w": self._power_w,
            "voltage_v": 229.5 + 2.0 * math.sin(t / 3600.0),
        }

    def water(self, t: float) -> dict[str, float]:
        self.advance(t)
        return {"volume_m3": self.volume, "flow_m3h": self._flow_m3h}


@lru_cache(maxsize=64)
def _plan(seed: int, tz_name: str, day: date) -> tuple[Activity, ...]:
    rng = random.Random(f"{seed}-{day.isoformat()}")
    tz = ZoneInfo(tz_name)
    midnight = datetime.combine(day, time(0), tz).timestamp()

    def at(hours: float, jitter_min: float = 0.0) -> float:
        return midnight + hours * 3600 + rng.uniform(-jitter_min, jitter_min) * 60

    plan: list[Activity] = []

    def add(start: float, minutes: float, power_w: float = 0.0, flow_m3h: float = 0.0) -> None:
        plan.append(Activity(start, start + minutes * 60, power_w, flow_m3h))

    def flush(start: float) -> None:
        add(start, 1.0, power_w=10.0, flow_m3h=FLUSH_M3H)  # and the bathroom light

    wake = at(6.5, 25)
    flush(wake)
    add(wake + 120, 3, flow_m3h=TAP_M3H)  # washing
    add(wake, 60, power_w=15.0)  # lights while it is dark or dim
    add(wake + 480, 0.2, flow_m3h=TAP_M3H)  # fill the kettle
    add(wake + 500, 3, power_w=1800.0)  # kettle
    add(wake + 1200, 15, power_w=800.0)  # porridge on the rice cooker
    if rng.random() < 0.8:
        add(at(8.8, 20), rng.uniform(60, 100), power_w=110.0)  # morning TV
    flush(at(9.6, 30))

    lunch = at(11.0, 15)
    add(lunch, 2, flow_m3h=TAP_M3H)
    add(lunch + 180, 25, power_w=1500.0)
    add(lunch + 1800, 3, flow_m3h=TAP_M3H)  # dishes
    flush(at(14.3, 20))
    add(at(14.5, 15), rng.uniform(120, 160), power_w=110.0)  # afternoon TV

    dinner = at(17.5, 15)
    add(dinner, 3, flow_m3h=TAP_M3H)
    add(dinner + 240, 30, power_w=1500.0)
    add(dinner + 2400, 3, flow_m3h=TAP_M3H)
    add(at(18.5, 10), 180, power_w=40.0)  # lights
    add(at(19.0, 10), rng.uniform(130, 160), power_w=110.0)  # evening TV
    if day.toordinal() % 2 == 0:
        shower = at(20.0, 20)
        add(shower - 1200, 20, power_w=2000.0)  # water heater
        add(shower, 10, flow_m3h=SHOWER_M3H, power_w=20.0)
    bed = at(21.75, 15)
    flush(bed)
    add(bed + 60, 2, flow_m3h=TAP_M3H)
    for _ in range(rng.choice((0, 1, 1, 2))):
        flush(at(rng.uniform(0.5, 5.0)))
    return tuple(sorted(plan, key=lambda x: x.start))
