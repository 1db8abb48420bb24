"""Local time for the rules: active hours and dose times are times of day in the
community's time zone, while the rules' clock is Unix seconds."""

import datetime as dt
import zoneinfo

from contract.careplan import ActiveHours


def local(now: float, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, tz)


def at_local(day: dt.date, time: dt.time, tz: zoneinfo.ZoneInfo) -> float:
    """Unix seconds of ``time`` on ``day`` in ``tz``."""
    return dt.datetime.combine(day, time, tzinfo=tz).timestamp()


def active_spans(
    start: float, end: float, hours: ActiveHours, tz: zoneinfo.ZoneInfo
) -> list[tuple[float, float]]:
    """The parts of [start, end) that fall inside the active hours."""
    if end <= start:
        return []
    spans: list[tuple[float, float]] = []
    day = local(start, tz).date() - dt.timedelta(days=1)
    last = local(end, tz).date()
    while day <= last:
        a = at_local(day, hours.start, tz)
        end_day = day if hours.start < hours.end else day + dt.timedelta(days=1)
        b = at_local(end_day, hours.end, tz)
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            spans.append((lo, hi))
        day += dt.timedelta(days=1)
    return spans


def active_seconds(start: float, end: float, hours: ActiveHours, tz: zoneinfo.ZoneInfo) -> float:
    """How much of [start, end) falls inside the active hours."""
    return sum(hi - lo for lo, hi in active_spans(start, end, hours, tz))


def is_active(now: float, hours: ActiveHours, tz: zoneinfo.ZoneInfo) -> bool:
    return hours.contains(local(now, tz).time())
