"""What the console reads back from the time series: wristband battery history and the
gateways' last heartbeats — InfluxQL queries and the parsing of their answers.

The queries go through ``InfluxWriter.query`` (the 1.x ``/query`` endpoint); the parsing
is pure, so it is tested on answers recorded from a real InfluxDB as well as live.
"""

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from fleet.battery import Sample
from fleet.settings import InfluxSettings
from fleet.timeseries import retention
from fleet.timeseries.influx import InfluxError

# A week of battery from the hourly aggregates is 168 points a band; 3-hour means keep
# 56, enough for a slope over days, and keep the answer for a district's 867 bands under
# 50,000 points (100,000 bands: 5.6 million, read from 16.8 million hourly points
# instead of 60 billion raw ones).
BATTERY_BUCKET = timedelta(hours=3)
BATTERY_WINDOW = timedelta(days=7)
# The last level is looked for further back: a band silent for weeks still has a row.
LATEST_WINDOW = timedelta(days=30)
# Raw points newer than this may not be in the hourly aggregates yet (the hourly
# continuous query runs when its hour closes, after the minute one).
RECENT_WINDOW = timedelta(hours=2)
HEARTBEAT_WINDOW = timedelta(days=1)
# Device ids as the contract has them (MACs, meter ids): nothing that ends a string.
_DEVICE = re.compile(r"[A-Za-z0-9:._-]{1,64}")
# A chart has about this many points whatever its span.
CHART_POINTS = 300
# Spans up to these read raw points and minute aggregates; longer ones the hourly.
RAW_SPAN = timedelta(hours=6)
MINUTE_SPAN = timedelta(days=14)


class Queries(Protocol):
    async def query(self, q: str, *, database: str | None = None) -> dict[str, Any]: ...


def _between(since: datetime, until: datetime) -> str:
    """The time condition; our own formatted instants are the only values in any query."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (
        f"time >= '{since.astimezone(UTC).strftime(fmt)}' "
        f"AND time <= '{until.astimezone(UTC).strftime(fmt)}'"
    )


def _instant(ms: Any) -> datetime:
    return datetime.fromtimestamp(float(ms) / 1000, UTC)


def _statements(result: dict[str, Any]) -> Iterable[list[dict[str, Any]]]:
    """Each statement's series, in the order the statements were sent."""
    for statement in result.get("results", []):
        if "error" in statement:
            raise InfluxError(f"InfluxDB refused the query: {statement['error']}")
        yield statement.get("series", [])


def _series(result: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for series in _statements(result):
        yield from series


def _column(series: dict[str, Any], name: str) -> int:
    columns: list[str] = series.get("columns", [])
    return columns.index(name)


def battery_history_query(now: datetime) -> str:
    """Bucket means of the hourly aggregates (each the band's last level in its hour)."""
    seconds = int(BATTERY_BUCKET.total_seconds())
    return (
        f'SELECT mean(battery) FROM "{retention.HOURLY}"."wristband" '  # noqa: S608
        f"WHERE {_between(now - BATTERY_WINDOW, now)} "
        f"GROUP BY time({seconds}s), device fill(none)"
    )


def battery_latest_query(now: datetime) -> str:
    """Two statements: the raw points of the last hours (the default policy, which the
    fleet writes to), then the hourly aggregates for bands not heard lately."""
    return (
        f"SELECT last(battery) FROM wristband WHERE {_between(now - RECENT_WINDOW, now)} "  # noqa: S608
        "GROUP BY device; "
        f'SELECT last(battery) FROM "{retention.HOURLY}"."wristband" '
        f"WHERE {_between(now - LATEST_WINDOW, now)} GROUP BY device"
    )


def _battery_rows(series_list: Iterable[dict[str, Any]]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for series in series_list:
        device = series.get("tags", {}).get("device")
        if not device:
            continue
        t, v = _column(series, "time"), len(series["columns"]) - 1
        for row in series.get("values", []):
            if row[v] is None:
                continue
            out.setdefault(device, []).append(Sample(_instant(row[t]), float(row[v])))
    return out


def parse_battery(result: dict[str, Any]) -> dict[str, list[Sample]]:
    """Per device, its (time, level) rows; rows without a level are skipped. Of several
    statements, a device's rows come from the first that has any (the freshest tier)."""
    out: dict[str, list[Sample]] = {}
    for series_list in _statements(result):
        for device, samples in _battery_rows(series_list).items():
            out.setdefault(device, samples)
    return out


async def battery(
    source: Queries, now: datetime
) -> tuple[dict[str, list[Sample]], dict[str, Sample]]:
    """Every band's battery history (bucket means) and its last reading."""
    history = parse_battery(await source.query(battery_history_query(now)))
    latest = {
        device: samples[-1]
        for device, samples in parse_battery(await source.query(battery_latest_query(now))).items()
    }
    return history, latest


def heartbeat_query(now: datetime) -> str:
    return (
        f"SELECT * FROM gateway_health WHERE {_between(now - HEARTBEAT_WINDOW, now)} "  # noqa: S608
        "GROUP BY gateway ORDER BY time DESC LIMIT 1"
    )


def parse_heartbeats(result: dict[str, Any]) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """Per gateway, its last heartbeat's time and figures (empty figures left out)."""
    out: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for series in _series(result):
        gateway = series.get("tags", {}).get("gateway")
        values = series.get("values") or []
        if not gateway or not values:
            continue
        row = dict(zip(series["columns"], values[0], strict=False))
        at = _instant(row.pop("time"))
        row.pop("gateway", None)
        out[gateway] = (at, {k: v for k, v in row.items() if v is not None})
    return out


async def heartbeats(source: Queries, now: datetime) -> dict[str, tuple[datetime, dict[str, Any]]]:
    return parse_heartbeats(await source.query(heartbeat_query(now)))


def tier_for(
    since: datetime, until: datetime, now: datetime, settings: InfluxSettings
) -> tuple[str, timedelta]:
    """The retention policy a chart of [since, until) reads, and its bucket: raw points
    for short, recent spans; minute aggregates up to two weeks; hourly beyond, or where
    a finer tier no longer reaches back that far."""
    span = until - since
    age = now - since

    def kept(days: int) -> bool:
        return days == 0 or age <= timedelta(days=days)

    if span <= RAW_SPAN and kept(settings.raw_retention_days):
        policy, step = "", timedelta(seconds=1)  # "": the default policy (raw)
    elif span <= MINUTE_SPAN and kept(settings.minute_retention_days):
        policy, step = retention.MINUTE, timedelta(minutes=1)
    else:
        policy, step = retention.HOURLY, timedelta(hours=1)
    # Whole multiples of the tier's interval, about CHART_POINTS buckets.
    bucket = max(step, step * -(-span // (step * CHART_POINTS)))
    return policy, bucket


def series_query(
    measurement: str,
    field: str,
    device: str,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    settings: InfluxSettings,
) -> str:
    """One device's field over a span, from the tier that fits the span; the bucket
    aggregate is the one the tiers are made with, so every tier answers alike."""
    function = retention.SUMMARIES[measurement][field]
    policy, bucket = tier_for(since, until, now, settings)
    source = f'"{policy}"."{measurement}"' if policy else f'"{measurement}"'
    if not _DEVICE.fullmatch(device):
        raise ValueError(f"not a device id: {device!r}")
    return (
        f'SELECT {function}("{field}") FROM {source} '  # noqa: S608
        f"WHERE device = '{device}' AND {_between(since, until)} "
        f"GROUP BY time({int(bucket.total_seconds())}s) fill(none)"
    )


def parse_series(result: dict[str, Any]) -> list[tuple[datetime, float]]:
    out: list[tuple[datetime, float]] = []
    for series in _series(result):
        t, v = _column(series, "time"), len(series["columns"]) - 1
        out.extend(
            (_instant(row[t]), float(row[v]))
            for row in series.get("values", [])
            if row[v] is not None
        )
    return out


async def activity(
    source: Queries,
    device: str,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    settings: InfluxSettings,
) -> list[tuple[datetime, float]]:
    """A band's step counter over a span (its last value in each bucket)."""
    q = series_query(
        "wristband", "steps", device, since=since, until=until, now=now, settings=settings
    )
    return parse_series(await source.query(q))


async def meter(
    source: Queries,
    device: str,
    field: str,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    settings: InfluxSettings,
) -> list[tuple[datetime, float]]:
    """A meter's field (energy_kwh, volume_m3, power_w, flow_m3h) over a span."""
    q = series_query("meter", field, device, since=since, until=until, now=now, settings=settings)
    return parse_series(await source.query(q))
