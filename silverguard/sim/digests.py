"""The band's own troubles in the district: taken off for hours, or running flat —
news for the caregiver's daily digest, not an alarm (fleet/alerts/digest.py).

The script takes one resident's band off the wrist for two hours of a day, and sets
another's battery to run flat (about 24 % and falling 40 % a day, so it crosses the
gateways' 20 % "low" line within a few hours and would be empty the next morning: the
reminder must come before it dies). The district's fleet sends digests at
``DIGEST_TIME`` local time; the ledger checks that the caregiver's digest that evening
names the resident with "band not worn" or "battery low", in the contact's language
(fleet/notify/templates.py), within the usual slack.

Pure: planning and judging; run.py does what the plan says and hands the phones'
messages to :func:`judge`.
"""

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from fleet.notify.templates import KIND_NAMES
from silverguard.sim.district import District, ResidentPlan
from silverguard.sim.ledger import Expected, Judged, Verdict

ZONE = ZoneInfo("Asia/Shanghai")
DIGEST_TIME = "20:00"
OFF_WRIST_S = 2 * 3600.0
FLAT_START_PCT = 24.0
FLAT_DRAIN_PCT_PER_DAY = 40.0


class Trouble(StrEnum):
    NOT_WORN = "band_not_worn"
    RUNNING_FLAT = "band_running_flat"

    @property
    def event_kind(self) -> str:
        return "not_worn" if self is Trouble.NOT_WORN else "low_battery"


@dataclass(frozen=True, slots=True)
class Planned:
    trouble: Trouble
    resident: ResidentPlan
    at: float  # product time it starts
    digest_at: float  # product time of that day's digest


def digest_moment(day0: datetime, day: int) -> float:
    hours, minutes = (int(p) for p in DIGEST_TIME.split(":"))
    return (day0 + timedelta(days=day)).replace(hour=hours, minute=minutes).timestamp()


def plan(
    district: District,
    seed: int,
    start: float,
    end: float,
    *,
    slack_s: float,
    at_home: Callable[[str, float], bool],
    exclude: frozenset[str] = frozenset(),
) -> list[Planned]:
    """One of each per day, at home, between 10:00 and 15:00; only days whose digest
    (and its slack) the run reaches."""
    rng = random.Random(seed * 101 + 3)  # noqa: S311 - a simulation
    day0 = datetime.fromtimestamp(start, ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    days = int((end - day0.timestamp()) // 86400) + 1
    pool = sorted((r for r in district.residents if r.id not in exclude), key=lambda r: r.id)
    used: set[str] = set()
    out: list[Planned] = []
    for day in range(days):
        digest_at = digest_moment(day0, day)
        if digest_at + slack_s > end:
            continue
        for trouble in Trouble:
            at = (day0 + timedelta(days=day, hours=rng.uniform(10, 15))).timestamp()
            if at < start + 120:
                continue
            # Heard throughout: at home from the start to the digest's cut.
            free = [
                r
                for r in pool
                if r.id not in used
                and all(at_home(r.id, t) for t in (at, at + OFF_WRIST_S / 2, at + OFF_WRIST_S))
            ]
            if not free:
                continue
            who = rng.choice(free)
            used.add(who.id)
            out.append(Planned(trouble, who, at, digest_at))
    return out


def battery_start_for(at: float, born: float) -> float:
    """The band's ``battery_start`` that puts it at FLAT_START_PCT at ``at`` while
    draining FLAT_DRAIN_PCT_PER_DAY (firmware_mocks.population.SimulatedBand.update)."""
    return FLAT_START_PCT + FLAT_DRAIN_PCT_PER_DAY * (at - born) / 86400


def expected(p: Planned, slack_s: float) -> Expected:
    """The ledger's row for it (judged by :func:`judge`, not by alerts)."""
    return Expected(
        f"{p.trouble.value} {p.resident.id}",
        p.trouble.value,
        p.resident.id,
        p.at,
        None,
        forbidden_kind=None,
        window_s=p.digest_at + slack_s - p.at,
    )


def resident_name(resident: ResidentPlan) -> str:
    """As the district's registry names them (silverguard/sim/district.py)."""
    return f"居民{resident.id[2:]}"


def judge(
    p: Planned,
    slack_s: float,
    messages: Iterable[tuple[str, float, str]],
) -> Judged:
    """``messages``: (contact, product time, text) of every message the phones got.
    Matched: the caregiver's digest at the digest time names the resident with the
    trouble; late: only a later one does; missed: none does."""
    row = expected(p, slack_s)
    names = {KIND_NAMES[lang][p.trouble.event_kind] for lang in KIND_NAMES}
    who = resident_name(p.resident)
    times = sorted(
        at
        for contact, at, text in messages
        if contact == p.resident.caregiver_id
        and at >= p.digest_at - 60
        and any(who in line and any(n in line for n in names) for line in text.splitlines())
    )
    if not times:
        return Judged(row, Verdict.MISSED, (), "no digest named it")
    if times[0] > p.digest_at + slack_s:
        return Judged(row, Verdict.LATE, (), f"digest {times[0] - p.digest_at:.0f} s late")
    return Judged(row, Verdict.MATCHED, ())
