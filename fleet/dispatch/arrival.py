"""Time to arrive, measured (pure): per group of dispatch tasks — a community on a local
day, a community over a month, everything — how long until someone took the task, how
long until they checked in at the door, the share there within 15 minutes, and what
they found.

Every time counts from the alert's opening (the task is made in that transaction):

* **time to accept** — opened → someone took the task (acknowledge link, assignment);
* **time to on-site** — opened → the holder checked in at the door;
* **within target** — on site within 15 minutes, out of the tasks that have had their
  15 minutes: checked in (early or late), or still open without a check-in for 15
  minutes or more. A task closed without anybody at the door (the resident cancelled,
  staff resolved it by phone, the outcome recorded without a check-in) is counted as
  ``closed_without_arrival`` and is neither a hit nor a miss: nobody had to go.

The district simulation's ledger calls :func:`figures` with its own tasks (``on_site_p50_min``
= ``on_site_median_s / 60``, ``on_site_within_15_min`` = ``within_target_share``).
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TypeVar

from fleet.alerts.sla import TARGET, percentile

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class TaskTimes:
    community_id: str | None
    opened_at: datetime
    accepted_at: datetime | None
    on_site_at: datetime | None
    closed_at: datetime | None
    found: str | None  # fleet.dispatch.tasks.Found, once recorded


@dataclass(frozen=True, slots=True)
class Figures:
    tasks: int
    accepted: int
    accept_median_s: float | None
    accept_p90_s: float | None
    on_site: int
    on_site_median_s: float | None
    on_site_p90_s: float | None
    eligible: int
    within_target: int
    within_target_share: float | None
    closed_without_arrival: int
    outcomes: dict[str, int] = field(default_factory=dict)  # found -> tasks


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def figures(tasks: Iterable[TaskTimes], now: datetime, target: timedelta = TARGET) -> Figures:
    accept: list[float] = []
    arrive: list[float] = []
    outcomes: Counter[str] = Counter()
    count = eligible = within = unarrived = 0
    for task in tasks:
        count += 1
        if task.accepted_at is not None:
            accept.append(_seconds(task.opened_at, task.accepted_at))
        if task.found is not None:
            outcomes[task.found] += 1
        if task.on_site_at is not None:
            waited = _seconds(task.opened_at, task.on_site_at)
            arrive.append(waited)
            eligible += 1
            within += waited <= target.total_seconds()
        elif task.closed_at is not None:
            unarrived += 1
        elif now - task.opened_at >= target:
            eligible += 1
    accept.sort()
    arrive.sort()
    return Figures(
        tasks=count,
        accepted=len(accept),
        accept_median_s=percentile(accept, 50),
        accept_p90_s=percentile(accept, 90),
        on_site=len(arrive),
        on_site_median_s=percentile(arrive, 50),
        on_site_p90_s=percentile(arrive, 90),
        eligible=eligible,
        within_target=within,
        within_target_share=round(within / eligible, 4) if eligible else None,
        closed_without_arrival=unarrived,
        outcomes=dict(sorted(outcomes.items())),
    )


def grouped(
    tasks: Iterable[TaskTimes],
    key: Callable[[TaskTimes], K],
    now: datetime,
    target: timedelta = TARGET,
) -> dict[K, Figures]:
    groups: dict[K, list[TaskTimes]] = defaultdict(list)
    for task in tasks:
        groups[key(task)].append(task)
    return {k: figures(v, now, target) for k, v in groups.items()}


def local_day(zone: tzinfo) -> Callable[[TaskTimes], tuple[str | None, str]]:
    def key(task: TaskTimes) -> tuple[str | None, str]:
        return (task.community_id, task.opened_at.astimezone(zone).date().isoformat())

    return key


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)
