"""A resident's day, simulated: when they sleep, sit, walk about, use the bathroom
or go out. One model drives both the wristband (motion, steps, in range or not) and
the flat's meters (water, power), so the two witnesses tell the same story.

Each day's plan is drawn from a seed and the day's date, so the same resident lives
the same day every time the simulation runs it, whatever the start time.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

CST = timezone(timedelta(hours=8))  # the district's local time


class Activity(StrEnum):
    SLEEP = "sleep"
    SITTING = "sitting"  # TV, reading, a nap in the chair
    WALKING = "walking"  # about the flat: cooking, tidying
    BATHROOM = "bathroom"  # washing, toilet: water runs
    OUT = "out"  # shopping, a walk, the community centre: out of the gateways' range


@dataclass(frozen=True, slots=True)
class Habits:
    """A person's rhythm; drawn once per resident."""

    wake_h: float = 6.5
    bed_h: float = 21.5
    outings_per_day: float = 1.2
    night_bathroom_visits: float = 1.0

    @classmethod
    def draw(cls, rng: random.Random) -> "Habits":
        return cls(
            wake_h=rng.uniform(5.5, 7.5),
            bed_h=rng.uniform(20.5, 22.5),
            outings_per_day=rng.uniform(0.3, 2.0),
            night_bathroom_visits=rng.uniform(0.0, 2.5),
        )


@dataclass(frozen=True, slots=True)
class Block:
    start_h: float  # hours since local midnight
    end_h: float
    activity: Activity


def plan_day(habits: Habits, seed: int, day: int) -> list[Block]:
    """The day's blocks, covering 0..24 h without gaps (local time)."""
    rng = random.Random(seed * 1_000_003 + day)
    wake = habits.wake_h + rng.uniform(-0.4, 0.4)
    bed = habits.bed_h + rng.uniform(-0.5, 0.5)
    blocks: list[Block] = [Block(0.0, wake, Activity.SLEEP)]
    # Night-time bathroom visits interrupt sleep.
    for _ in range(_poisson(rng, habits.night_bathroom_visits)):
        at = rng.uniform(0.5, max(0.6, wake - 0.5))
        blocks = _insert(blocks, Block(at, at + rng.uniform(0.05, 0.15), Activity.BATHROOM))
    t = wake
    blocks.append(Block(t, t + 0.4, Activity.BATHROOM))  # morning wash: water runs
    t += 0.4
    outings = _poisson(rng, habits.outings_per_day)
    outing_starts = sorted(rng.uniform(wake + 1.5, bed - 2.5) for _ in range(outings))
    for start in outing_starts:
        if start <= t:
            continue
        _fill_home(blocks, t, start, rng)
        length = rng.uniform(0.5, 2.0)
        blocks.append(Block(start, start + length, Activity.OUT))
        t = start + length
    if t < bed:
        _fill_home(blocks, t, bed, rng)
    blocks.append(Block(max(t, bed), 24.0, Activity.SLEEP))
    return _normalise(blocks)


def _fill_home(blocks: list[Block], start: float, end: float, rng: random.Random) -> None:
    t = start
    while t < end:
        activity = rng.choices(
            [Activity.SITTING, Activity.WALKING, Activity.BATHROOM], weights=[0.6, 0.3, 0.1]
        )[0]
        length = {Activity.SITTING: 1.0, Activity.WALKING: 0.4, Activity.BATHROOM: 0.15}[activity]
        stop = min(end, t + rng.uniform(0.5, 1.5) * length)
        blocks.append(Block(t, stop, activity))
        t = stop


def _insert(blocks: list[Block], new: Block) -> list[Block]:
    out: list[Block] = []
    for b in blocks:
        if b.end_h <= new.start_h or b.start_h >= new.end_h:
            out.append(b)
            continue
        if b.start_h < new.start_h:
            out.append(Block(b.start_h, new.start_h, b.activity))
        out.append(new)
        if b.end_h > new.end_h:
            out.append(Block(new.end_h, b.end_h, b.activity))
    return out


def _normalise(blocks: list[Block]) -> list[Block]:
    blocks = sorted(blocks, key=lambda b: b.start_h)
    out: list[Block] = []
    for b in blocks:
        start = out[-1].end_h if out else 0.0
        if b.end_h <= start:
            continue
        out.append(Block(start, min(24.0, b.end_h), b.activity))
    if out and out[-1].end_h < 24.0:
        out[-1] = Block(out[-1].start_h, 24.0, out[-1].activity)
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: means here are small.
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Routine:
    """One resident's activity at any moment, with the day plans cached."""

    def __init__(self, seed: int, habits: Habits | None = None) -> None:
        self.seed = seed
        self.habits = habits or Habits.draw(random.Random(seed))
        self._plans: dict[int, list[Block]] = {}

    def activity_at(self, unix_s: float) -> Activity:
        local = datetime.fromtimestamp(unix_s, UTC).astimezone(CST)
        day = local.toordinal()
        plan = self._plans.get(day)
        if plan is None:
            if len(self._plans) > 4:
                self._plans.clear()
            plan = self._plans[day] = plan_day(self.habits, self.seed, day)
        hour = local.hour + local.minute / 60 + local.second / 3600
        for block in plan:
            if block.start_h <= hour < block.end_h:
                return block.activity
        return Activity.SLEEP
