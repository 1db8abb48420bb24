"""Battery health of the fleet's wristbands: level, discharge slope, days left, abnormal drain.

Pure: readings in (already fetched from the time series), figures out; the clock is
passed in. The rules match the gateway's own low-battery rule (``edge/rules/device.py``)
so the console and the caregivers' notices agree:

* a rise of ``CHARGED_PCT`` or more between two readings means the band was charged
  (or its cell replaced), so the slope is taken over the readings since then only;
* the slope is a least-squares line through those readings, and only once they span
  ``MIN_SPAN`` (a 1 % gauge step inside a few hours would otherwise read as a steep
  drain);
* a band drains *abnormally* when it loses at least ``ABNORMAL_FACTOR`` times the
  fleet's median drain — and at least ``ABNORMAL_MIN_EXCESS`` points a day more —
  compared only when ``MIN_PEERS`` bands have a slope (fewer make no median worth
  comparing with). Bands of one model age alike; one draining twice as fast usually
  has a failing cell, a stuck motor or radio, or is worn by someone pressing it all day.
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

CHARGED_PCT = 5.0
MIN_SPAN = timedelta(hours=12)
MIN_POINTS = 3
LOW_PCT = 20.0  # about two weeks left on a coin cell: the gateway's battery_low_pct
CRITICAL_PCT = 10.0  # the gateway's battery_critical_pct
WARN_DAYS = 3.0  # the gateway's battery_warn_days: "charge soon" when low within this
ABNORMAL_FACTOR = 2.0
ABNORMAL_MIN_EXCESS = 1.0  # percentage points a day
MIN_PEERS = 5
NOT_HEARD = timedelta(hours=1)  # a band silent this long: its wearer is not protected

_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    level: float  # percent


@dataclass(frozen=True, slots=True)
class BandBattery:
    device: str
    level: float | None
    level_at: datetime | None
    drain_per_day: float | None  # percentage points lost per day; negative while charging
    days_left: float | None  # from now until empty, at the current drain
    days_to_low: float | None  # from now until LOW_PCT
    cycle_start: datetime | None  # first reading of the current discharge cycle
    low: bool
    critical: bool
    charge_soon: bool
    abnormal: bool
    not_heard: bool


def never_heard(device: str) -> BandBattery:
    """A registered band with no reading in the time series."""
    return BandBattery(
        device=device,
        level=None,
        level_at=None,
        drain_per_day=None,
        days_left=None,
        days_to_low=None,
        cycle_start=None,
        low=False,
        critical=False,
        charge_soon=False,
        abnormal=False,
        not_heard=True,
    )


@dataclass(frozen=True, slots=True)
class FleetBattery:
    computed_at: datetime
    median_drain_per_day: float | None
    bands_with_slope: int
    bands: dict[str, BandBattery]


def current_cycle(samples: Sequence[Sample]) -> list[Sample]:
    """The readings since the last charge (a rise of CHARGED_PCT or more), oldest first."""
    ordered = sorted(samples, key=lambda s: s.at)
    start = 0
    for i in range(1, len(ordered)):
        if ordered[i].level >= ordered[i - 1].level + CHARGED_PCT:
            start = i
    return ordered[start:]


def drain_per_day(cycle: Sequence[Sample]) -> float | None:
    """Points lost per day by least squares, or None when the readings cannot tell."""
    if len(cycle) < MIN_POINTS or cycle[-1].at - cycle[0].at < MIN_SPAN:
        return None
    origin = cycle[0].at
    days = [(s.at - origin).total_seconds() / _DAY_S for s in cycle]
    levels = [s.level for s in cycle]
    try:
        slope, _ = statistics.linear_regression(days, levels)
    except statistics.StatisticsError:  # every reading at one instant
        return None
    return -slope


def _days_until(level: float, target: float, drain: float | None, elapsed_days: float) -> float:
    """Days from now until ``level`` (read ``elapsed_days`` ago) falls to ``target``."""
    if level <= target:
        return 0.0
    if drain is None or drain <= 0:
        return float("inf")
    return max(0.0, (level - target) / drain - elapsed_days)


def assess(
    history: Mapping[str, Sequence[Sample]],
    latest: Mapping[str, Sample],
    now: datetime,
) -> FleetBattery:
    """Figures for every band in ``history`` or ``latest``.

    ``history``: each band's readings over the last days (for the slope);
    ``latest``: each band's last reading (its level now), when known.
    """
    devices = set(history) | set(latest)
    drains: dict[str, float | None] = {}
    cycles: dict[str, list[Sample]] = {}
    for device in devices:
        samples = list(history.get(device, ()))
        last = latest.get(device)
        if last is not None and (not samples or last.at > max(s.at for s in samples)):
            samples.append(last)
        cycles[device] = current_cycle(samples)
        drains[device] = drain_per_day(cycles[device])
    discharging = sorted(d for d in drains.values() if d is not None and d > 0)
    median = statistics.median(discharging) if discharging else None
    compare = median is not None and len(discharging) >= MIN_PEERS
    bands = {}
    for device in devices:
        cycle = cycles[device]
        last = latest.get(device) or (cycle[-1] if cycle else None)
        drain = drains[device]
        days_left = days_to_low = None
        if last is not None:
            elapsed = max(0.0, (now - last.at).total_seconds() / _DAY_S)
            left = _days_until(last.level, 0.0, drain, elapsed)
            to_low = _days_until(last.level, LOW_PCT, drain, elapsed)
            days_left = None if left == float("inf") else round(left, 1)
            days_to_low = None if to_low == float("inf") else round(to_low, 1)
        abnormal = (
            compare
            and drain is not None
            and median is not None
            and drain >= ABNORMAL_FACTOR * median
            and drain - median >= ABNORMAL_MIN_EXCESS
        )
        level = last.level if last is not None else None
        bands[device] = BandBattery(
            device=device,
            level=level,
            level_at=last.at if last is not None else None,
            drain_per_day=None if drain is None else round(drain, 2),
            days_left=days_left,
            days_to_low=days_to_low,
            cycle_start=cycle[0].at if cycle else None,
            low=level is not None and level <= LOW_PCT,
            critical=level is not None and level <= CRITICAL_PCT,
            charge_soon=days_to_low is not None and days_to_low <= WARN_DAYS,
            abnormal=bool(abnormal),
            not_heard=last is None or now - last.at >= NOT_HEARD,
        )
    return FleetBattery(
        computed_at=now,
        median_drain_per_day=None if median is None else round(median, 2),
        bands_with_slope=len(discharging),
        bands=bands,
    )
