"""Response figures: time to notify, time to acknowledge, share acknowledged in time (pure).

Field staff are held to a 15-minute response. For each group of alerts (a community
on a local day, a community over a period, everything):

* **time to notify** — alert opened → first message accepted by a channel's service;
* **time to acknowledge** — alert opened → someone acknowledged (a link, the console);
  resolving an unacknowledged alert counts as acknowledging it then;
* **share within target** — acknowledged within 15 minutes, out of the alerts that
  have had their 15 minutes (acknowledged, or opened at least 15 minutes ago); an
  alert still waiting inside its first 15 minutes is neither a hit nor a miss yet.
"""

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

# The district's promise (fleet setting response_target_s); the default when none is given.
TARGET = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class AlertTimes:
    community_id: str | None
    opened_at: datetime
    notified_at: datetime | None
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class Figures:
    alerts: int
    notified: int
    acknowledged: int
    notify_median_s: float | None
    notify_p90_s: float | None
    ack_median_s: float | None
    ack_p90_s: float | None
    eligible: int  # alerts that have had their 15 minutes
    within_target: int
    within_target_share: float | None  # within_target / eligible


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def figures(alerts: Iterable[AlertTimes], now: datetime, target: timedelta = TARGET) -> Figures:
    notify: list[float] = []
    ack: list[float] = []
    count = eligible = within = 0
    for a in alerts:
        count += 1
        if a.notified_at is not None:
            notify.append(max(0.0, (a.notified_at - a.opened_at).total_seconds()))
        if a.acknowledged_at is not None:
            waited = a.acknowledged_at - a.opened_at
            ack.append(max(0.0, waited.total_seconds()))
            eligible += 1
            within += waited <= target
        elif now - a.opened_at >= target:
            eligible += 1
    notify.sort()
    ack.sort()
    return Figures(
        alerts=count,
        notified=len(notify),
        acknowledged=len(ack),
        notify_median_s=percentile(notify, 50),
        notify_p90_s=percentile(notify, 90),
        ack_median_s=percentile(ack, 50),
        ack_p90_s=percentile(ack, 90),
        eligible=eligible,
        within_target=within,
        within_target_share=round(within / eligible, 4) if eligible else None,
    )


def grouped(
    alerts: Iterable[AlertTimes],
    key: Callable[[AlertTimes], K],
    now: datetime,
    target: timedelta = TARGET,
) -> dict[K, Figures]:
    groups: dict[K, list[AlertTimes]] = defaultdict(list)
    for a in alerts:
        groups[key(a)].append(a)
    return {k: figures(v, now, target) for k, v in groups.items()}


def local_day(zone: tzinfo) -> Callable[[AlertTimes], tuple[str | None, str]]:
    def key(a: AlertTimes) -> tuple[str | None, str]:
        return (a.community_id, a.opened_at.astimezone(zone).date().isoformat())

    return key
