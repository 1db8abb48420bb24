"""The band's activity facts for the risk tags, from the time series: daily steps of the
last 7 days against the resident's own baseline (the 28 days before), and the share of
the week's steps taken at night (22:00–06:00 local).

``steps`` is the band's running step counter; a day's (or an hour's) steps are its
spread (max − min) within it. A counter reset inside a bucket undercounts that bucket;
across 35 days that is noise, not a trend. Days without any reading are left out of
both means, so a band that was away is not "inactive". A baseline needs at least 7 days
with readings; without it the ratio is missing, not 1.

Queries and parsing are pure; :func:`activity` runs them through ``InfluxWriter.query``.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fleet.risk.daily import Activity
from fleet.timeseries.history import Queries, _between, _column, _instant, _series

RECENT_DAYS = 7
BASELINE_DAYS = 28
MIN_BASELINE_DAYS = 7
NIGHT_HOURS = frozenset({22, 23, 0, 1, 2, 3, 4, 5})  # local clock hours


def _offset_s(zone_offset: timedelta) -> int:
    """GROUP BY time(1d, offset): days start at local midnight (00:00 UTC+8 = 16:00 UTC)."""
    return int((-zone_offset).total_seconds()) % 86400


def daily_query(now: datetime, zone_offset: timedelta) -> str:
    since = now - timedelta(days=RECENT_DAYS + BASELINE_DAYS + 1)
    return (
        f"SELECT spread(steps) FROM wristband WHERE {_between(since, now)} "  # noqa: S608
        f"GROUP BY time(1d, {_offset_s(zone_offset)}s), device fill(none)"
    )


def hourly_query(now: datetime) -> str:
    since = now - timedelta(days=RECENT_DAYS)
    return (
        f"SELECT spread(steps) FROM wristband WHERE {_between(since, now)} "  # noqa: S608
        "GROUP BY time(1h), device fill(none)"
    )


def parse(result: dict[str, Any]) -> dict[str, list[tuple[datetime, float]]]:
    """device -> [(bucket start, steps)]"""
    out: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for series in _series(result):
        device = series.get("tags", {}).get("device")
        if not device:
            continue
        at, value = _column(series, "time"), _column(series, "spread")
        for row in series.get("values", []):
            if row[value] is not None:
                out[device].append((_instant(row[at]), float(row[value])))
    return out


def _today_start(now: datetime, zone_offset: timedelta) -> datetime:
    local = now + zone_offset
    return local.replace(hour=0, minute=0, second=0, microsecond=0) - zone_offset


def ratio(
    days: Iterable[tuple[datetime, float]], now: datetime, zone_offset: timedelta
) -> float | None:
    """Mean steps of the last 7 whole local days / of the 28 before them (today, not
    over yet, is left out: its steps would read as a decline every morning)."""
    today = _today_start(now, zone_offset)
    recent_since = today - timedelta(days=RECENT_DAYS)
    baseline_since = recent_since - timedelta(days=BASELINE_DAYS)
    recent = [v for at, v in days if recent_since <= at < today]
    baseline = [v for at, v in days if baseline_since <= at < recent_since]
    if not recent or len(baseline) < MIN_BASELINE_DAYS:
        return None
    base = sum(baseline) / len(baseline)
    if base <= 0:
        return None
    return round((sum(recent) / len(recent)) / base, 3)


def night_share(hours: Iterable[tuple[datetime, float]], zone_offset: timedelta) -> float | None:
    total = night = 0.0
    for at, steps in hours:
        total += steps
        if (at + zone_offset).hour in NIGHT_HOURS:
            night += steps
    return round(night / total, 3) if total > 0 else None


def facts(
    daily: Mapping[str, list[tuple[datetime, float]]],
    hourly: Mapping[str, list[tuple[datetime, float]]],
    bands: Mapping[str, str],
    now: datetime,
    zone_offset: timedelta,
) -> dict[str, Activity]:
    """Per resident (``bands``: MAC -> resident id)."""
    out = {}
    for mac, resident in bands.items():
        if mac not in daily and mac not in hourly:
            continue
        out[resident] = Activity(
            ratio_7d=ratio(daily.get(mac, []), now, zone_offset),
            night_share_7d=night_share(hourly.get(mac, []), zone_offset),
        )
    return out


async def activity(
    source: Queries, bands: Mapping[str, str], now: datetime, zone_offset: timedelta
) -> dict[str, Activity]:
    daily = parse(await source.query(daily_query(now, zone_offset)))
    hourly = parse(await source.query(hourly_query(now)))
    return facts(daily, hourly, bands, now, zone_offset)
