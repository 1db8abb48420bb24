"""The closed loop in the district (issue 15): people who go to the resident, and
residents who drift into risk — scripted, then checked through the fleet's API.

* **Field work.** When a phone gets a task that is now its holder's ("assigned", with
  the check-in / outcome links), its person sets off a minute later, checks in at the
  door after their travel time and records the outcome after the visit. Each person's
  travel time is drawn once from the seed (a log-normal around 9 minutes: most arrive
  within the district's 15-minute promise, some do not), so the fleet's arrival figures
  have something true to measure; the ledger compares the check-ins made with the
  on-site times the fleet measured.
* **Drift.** A few residents drift into risk, each with the tag it must raise and by
  when: *less active than usual* (their band's previous four weeks, written into the
  time series before the day starts: a usual 8,000 steps a day, then a week of a few
  hundred), and *missed doses* (both of the day's doses missed). The fleet evaluates
  the day's tags by itself (fleet/risk/scheduler.py); the ledger reads each resident's
  tags at the end and checks that each expected tag holds, since the expected day or
  earlier.

Pure planning and judging here; the HTTP calls are the small async methods of
:class:`FieldWork` and the two readers at the end.
"""

import asyncio
import contextlib
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from silverguard.sim.district import District, ResidentPlan

ZONE = ZoneInfo("Asia/Shanghai")
# A task's links in an "assigned" message (fleet/dispatch/task_link.py).
_TASK_LINK = re.compile(
    r"https?://\S+/task/t1\.(?P<task>\d+)\.[a-z0-9-]+\.(?P<action>checkin|outcome|decline)\.\S+"
)
TRAVEL_MEDIAN_MIN = 9.0
TRAVEL_SIGMA = 0.45  # log-normal: about 13 % take longer than 15 minutes
TRAVEL_MIN_MIN, TRAVEL_MAX_MIN = 3.0, 40.0
SET_OFF_AFTER_S = 60.0
VISIT_S = 45 * 60.0  # at the door until the outcome is written (after a fall's 30 min)
TARGET_S = 15 * 60.0

DECLINING = 2  # residents whose activity declines
MISSING_DOSES = 2  # residents who miss both doses of the first day
USUAL_STEPS = 8000
LOW_STEPS = 400
HISTORY_DAYS = 29  # within the time series' 30-day raw retention


# -- field work ----------------------------------------------------------------------


def travel_s(contact: str, seed: int) -> float:
    """How long this person takes to get to a resident (product seconds)."""
    rng = random.Random(f"{seed}:{contact}")  # noqa: S311 - a simulation
    minutes = rng.lognormvariate(math.log(TRAVEL_MEDIAN_MIN), TRAVEL_SIGMA)
    return 60.0 * min(max(minutes, TRAVEL_MIN_MIN), TRAVEL_MAX_MIN)


@dataclass(frozen=True, slots=True)
class Visit:
    task: int
    contact: str
    check_in: str  # link
    outcome: str  # link
    accepted_at: float  # product time the assignment arrived
    travel_s: float


def visit_of(contact: str, message: str, at: float, seed: int) -> Visit | None:
    """The visit a message asks for, if it hands this person a task with its links."""
    links = {m["action"]: (int(m["task"]), m[0]) for m in _TASK_LINK.finditer(message)}
    if "checkin" not in links or "outcome" not in links:
        return None
    task, check_in = links["checkin"]
    return Visit(task, contact, check_in, links["outcome"][1], at, travel_s(contact, seed))


@dataclass
class FieldWork:
    """What the people holding tasks do, on the product clock."""

    seed: int
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))
    # (product time, seq, what, visit)
    _due: list[tuple[float, int, str, Visit]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    checked_in: list[tuple[Visit, float]] = field(default_factory=list)  # visit, at
    outcomes: int = 0
    refused: int = 0

    def heard(self, contact: str, message: str, at: float) -> None:
        visit = visit_of(contact, message, at, self.seed)
        if visit is None or any(v.task == visit.task for _, _, _, v in self._due):
            return
        for when, what in (
            (at + SET_OFF_AFTER_S, "on_the_way"),
            (at + visit.travel_s, "check_in"),
            (at + visit.travel_s + VISIT_S, "outcome"),
        ):
            self._due.append((when, len(self._due), what, visit))
        self._due.sort()

    def step(self, now: float) -> None:
        while self._due and self._due[0][0] <= now:
            _, _, what, visit = self._due.pop(0)
            task = asyncio.create_task(self._do(what, visit, now))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _do(self, what: str, visit: Visit, now: float) -> None:
        forms: dict[str, Any] = {
            "on_the_way": {"step": "on_the_way"},
            "check_in": {},
            "outcome": {"found": "other", "done": ["called_family"], "note": "sim"},
        }
        link = visit.outcome if what == "outcome" else visit.check_in
        with contextlib.suppress(httpx.HTTPError):
            response = await self.http.post(link, data=forms[what])
            if response.status_code != 200:
                # The task closed first (the resident took the dose, staff resolved it).
                self.refused += 1
            elif what == "check_in":
                self.checked_in.append((visit, now))
            elif what == "outcome":
                self.outcomes += 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.http.aclose()


def on_site_figures(arrival: dict[str, Any], checked_in: int) -> dict[str, float | int | None]:
    """The ledger's keys from the fleet's ``GET /api/v1/dispatch/arrival`` total."""
    total = arrival["total"]
    median = total.get("on_site_median_s")
    return {
        "on_site_p50_min": None if median is None else round(median / 60, 1),
        "on_site_within_15_min": total.get("within_target_share"),
        "on_site_checkins": checked_in,
        "on_site_measured": int(total.get("on_site") or 0),
        "on_site_unmeasured": max(0, checked_in - int(total.get("on_site") or 0)),
    }


# -- drift ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagExpected:
    resident: str
    tag: str
    by: float  # product time by which the fleet must hold it

    def day(self) -> date:
        return datetime.fromtimestamp(self.by, ZONE).date()


@dataclass(frozen=True, slots=True)
class MissedDose:
    resident: ResidentPlan
    dose: str
    at: float  # the dose's time (product)


@dataclass(slots=True)
class Drift:
    expected: list[TagExpected] = field(default_factory=list)
    missed: list[MissedDose] = field(default_factory=list)
    # band MAC -> [(product time, running step counter)]
    history: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    @property
    def residents(self) -> frozenset[str]:
        return frozenset({e.resident for e in self.expected} | {m.resident.id for m in self.missed})


def _local(day0: datetime, day: int, hour: int) -> float:
    return (day0 + timedelta(days=day)).replace(hour=hour).timestamp()


def plan_drift(
    district: District,
    seed: int,
    start: float,
    end: float,
    *,
    evaluated_every_s: float,
    grace_s: float,
    slack_s: float,
) -> Drift:
    """Who drifts, how, and which tag each must have by when. Only what the run is
    long enough to see is expected: a tag is due a full evaluation period (and slack)
    after its last cause."""
    rng = random.Random(seed * 7 + 11)  # noqa: S311 - a simulation
    day0 = datetime.fromtimestamp(start, ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    drift = Drift()
    pool = sorted(district.residents, key=lambda r: r.id)
    declining = rng.sample(pool, min(DECLINING, len(pool)))
    first_evaluation = start + evaluated_every_s + slack_s
    for r in declining:
        counter = rng.randrange(10_000, 90_000)
        points: list[tuple[float, int]] = []
        for day in range(-HISTORY_DAYS, 0):
            usual = USUAL_STEPS if day < -7 else LOW_STEPS
            steps = int(usual * rng.uniform(0.85, 1.15))
            points.append((_local(day0, day, 8), counter))
            counter += steps
            points.append((_local(day0, day, 20), counter))
        drift.history[r.mac] = points
        if first_evaluation <= end:
            drift.expected.append(TagExpected(r.id, "activity_declining", first_evaluation))
    taken = {r.id for r in declining}
    twice = [r for r in pool if len(r.doses) >= 2 and r.id not in taken]
    for r in rng.sample(twice, min(MISSING_DOSES, len(twice))):
        times = [_dose_at(day0, d.time) for d in r.doses]
        by = max(times) + grace_s + evaluated_every_s + slack_s
        if min(times) < start + 120 or by > end:
            continue
        drift.missed += [MissedDose(r, d.id, t) for d, t in zip(r.doses, times, strict=True)]
        drift.expected.append(TagExpected(r.id, "missed_doses", by))
    return drift


def _dose_at(day0: datetime, hhmm: str) -> float:
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return day0.replace(hour=hours, minute=minutes).timestamp()


def history_lines(history: dict[str, list[tuple[float, int]]]) -> bytes:
    """InfluxDB line protocol: the bands' step counters as the fleet writes them."""
    lines = [
        f"wristband,device={mac} steps={steps}i {round(at * 1000)}"
        for mac, points in history.items()
        for at, steps in points
    ]
    return "\n".join(lines).encode()


def tags_found(expected: Iterable[TagExpected], held: dict[str, list[dict[str, Any]]]) -> int:
    """How many expected tags the fleet holds for their resident, begun by the
    expected day (``held``: resident -> the API's tags, each with ``tag`` and ``since``)."""
    found = 0
    for e in expected:
        for tag in held.get(e.resident, []):
            if tag["tag"] == e.tag and date.fromisoformat(str(tag["since"])) <= e.day():
                found += 1
                break
    return found
