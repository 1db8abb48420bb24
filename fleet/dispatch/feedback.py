"""Outcomes feed back (pure): what people found at the door says how often each rule,
and each resident's band, raises real alerts.

* **field precision** — alerts that were real / alerts judged (real + false alarm).
  Real: a fall with or without injury, or something else that needed someone; false:
  a false alarm. "Not at home" and alerts closed without an outcome are not judged
  (they say nothing about the band). The task's outcome form decides; an alert
  resolved in the console without a task is judged by its outcome word
  (``attended``/``hospital`` real, ``false_alarm`` false).
* **band check** — a resident whose band raised ``BAND_CHECK_FALSE_ALARMS`` false
  alarms within 7 days needs someone to check the band's fit and settings.
* **rule flag** — a rule (alert kind) whose district-wide precision over the last
  ``window`` falls below ``RULE_PRECISION_FLOOR``, with at least ``RULE_MIN_JUDGED``
  judged alerts (fewer say too little), is flagged to the admin with its figures.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from fleet.dispatch.tasks import REAL, Found

K = TypeVar("K", bound=Hashable)

BAND_CHECK_FALSE_ALARMS = 2
BAND_CHECK_WINDOW = timedelta(days=7)
RULE_PRECISION_FLOOR = 0.5
RULE_MIN_JUDGED = 5

_REAL_WORDS = frozenset({"attended", "hospital"})
_FALSE_WORDS = frozenset({"false_alarm"})


@dataclass(frozen=True, slots=True)
class Judged:
    """One alert's verdict: ``real`` True/False, or None when it was not judged."""

    kind: str
    resident_id: str | None
    opened_at: datetime
    real: bool | None


def verdict(found: str | None, alert_outcome: str | None) -> bool | None:
    if found is not None:
        if found == Found.FALSE_ALARM.value:
            return False
        return True if Found(found) in REAL else None
    if alert_outcome in _REAL_WORDS:
        return True
    if alert_outcome in _FALSE_WORDS:
        return False
    return None


@dataclass(frozen=True, slots=True)
class Precision:
    alerts: int
    real: int
    false: int
    precision: float | None  # real / (real + false)


def precision(items: Iterable[Judged]) -> Precision:
    alerts = real = false = 0
    for item in items:
        alerts += 1
        real += item.real is True
        false += item.real is False
    judged = real + false
    return Precision(alerts, real, false, round(real / judged, 4) if judged else None)


def grouped(items: Iterable[Judged], key: Callable[[Judged], K]) -> dict[K, Precision]:
    groups: dict[K, list[Judged]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return {k: precision(v) for k, v in groups.items()}


def needs_band_check(items: Iterable[Judged], resident_id: str, now: datetime) -> bool:
    """Two false alarms (or more) of this resident's band within the last 7 days."""
    since = now - BAND_CHECK_WINDOW
    false = sum(
        1
        for i in items
        if i.resident_id == resident_id and i.real is False and i.opened_at >= since
    )
    return false >= BAND_CHECK_FALSE_ALARMS


@dataclass(frozen=True, slots=True)
class RuleFlag:
    rule: str
    figures: Precision
    floor: float


def flag_rules(
    by_rule: dict[str, Precision],
    floor: float = RULE_PRECISION_FLOOR,
    min_judged: int = RULE_MIN_JUDGED,
) -> list[RuleFlag]:
    flags = []
    for rule, figures in sorted(by_rule.items()):
        judged = figures.real + figures.false
        if figures.precision is not None and judged >= min_judged and figures.precision < floor:
            flags.append(RuleFlag(rule, figures, floor))
    return flags
