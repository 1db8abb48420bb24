"""The risk board (pure): residents ranked by their tags, what changed since last week,
and each grid worker's visit list for the week — who to see and why.

Input is plain values (the registry's rows already read), so the district simulation's
ledger can build a board from its own residents too.

* rank — by the sum of the tags' weights, then by the heaviest tag, then by id; the
  weight is never shown without the tags behind it;
* changes — tags that began after the day a week ago ("new") and tags that held then
  and hold no more ("gone");
* visits — residents whose tags weigh at least ``VISIT_WEIGHT`` (or who hold a tag of
  at least ``URGENT_TAG_WEIGHT``) and who had no visit recorded in the last 7 days,
  on their grid worker's list, heaviest first; residents without a grid worker are
  listed under ``None`` for the health center to assign.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

VISIT_WEIGHT = 6
URGENT_TAG_WEIGHT = 4
VISIT_FRESH_DAYS = 7


@dataclass(frozen=True, slots=True)
class Span:
    """A tag's span of days for one resident (risk_tags row)."""

    resident_id: str
    tag: str
    since: date
    until: date | None  # first day it no longer held; None: still holds
    weight: int

    def holds_on(self, day: date) -> bool:
        return self.since <= day and (self.until is None or self.until > day)


@dataclass(frozen=True, slots=True)
class Entry:
    resident_id: str
    weight: int
    tags: tuple[str, ...]  # heaviest first
    new: tuple[str, ...]
    gone: tuple[str, ...]
    worker_id: str | None
    visited_on: date | None  # the last visit recorded, if any
    needs_visit: bool


@dataclass(frozen=True, slots=True)
class Board:
    day: date
    entries: tuple[Entry, ...]
    visits: dict[str | None, tuple[str, ...]] = field(default_factory=dict)


def build(
    spans: Iterable[Span],
    residents: Mapping[str, str | None],
    last_visits: Mapping[str, date],
    day: date,
) -> Board:
    """``residents``: resident id → their grid worker's contact id (or None)."""
    week_ago = day - timedelta(days=7)
    now: dict[str, list[Span]] = defaultdict(list)
    then: dict[str, set[str]] = defaultdict(set)
    for span in spans:
        if span.resident_id not in residents:
            continue
        if span.holds_on(day):
            now[span.resident_id].append(span)
        if span.holds_on(week_ago):
            then[span.resident_id].add(span.tag)
    entries = []
    for resident_id, worker in residents.items():
        held = sorted(now.get(resident_id, []), key=lambda s: (-s.weight, s.tag))
        if not held and not then.get(resident_id):
            continue
        weight = sum(s.weight for s in held)
        names = {s.tag for s in held}
        visited = last_visits.get(resident_id)
        fresh = visited is not None and (day - visited).days < VISIT_FRESH_DAYS
        risky = weight >= VISIT_WEIGHT or any(s.weight >= URGENT_TAG_WEIGHT for s in held)
        entries.append(
            Entry(
                resident_id=resident_id,
                weight=weight,
                tags=tuple(s.tag for s in held),
                new=tuple(s.tag for s in held if s.since > week_ago),
                gone=tuple(sorted(then.get(resident_id, set()) - names)),
                worker_id=worker,
                visited_on=visited,
                needs_visit=risky and not fresh,
            )
        )
    entries.sort(key=lambda e: (-e.weight, -max((0, *_weights(e, now))), e.resident_id))
    visits: dict[str | None, list[str]] = defaultdict(list)
    for entry in entries:
        if entry.needs_visit:
            visits[entry.worker_id].append(entry.resident_id)
    return Board(day, tuple(entries), {k: tuple(v) for k, v in visits.items()})


def _weights(entry: Entry, now: Mapping[str, list[Span]]) -> list[int]:
    return [s.weight for s in now.get(entry.resident_id, [])]
