"""What the console reads back from the time series: wristband battery history and the
gateways' last heartbeats — InfluxQL queries and the parsing of their answers.

The queries go through ``InfluxWriter.query`` (the 1.x ``/query`` endpoint); the parsing
is pure, so it is tested on answers recorded from a real InfluxDB as well as live.
"""

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
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


# -- one resident's page ---------------------------------------------------------------

# How far back the resident page looks for the band's and the meters' last readings.
LAST_HEARD_WINDOW = timedelta(days=30)


def _quoted(value: str) -> str:
    """An InfluxQL string literal. Ids are checked by the registry before they get here
    (MACs, meter ids); escaping keeps even an odd one a literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def band_heard_query(mac: str, now: datetime) -> str:
    # The fleet stores one reading per band and moment, from the gateway hearing it best
    # (fleet/ingest/source.py): the newest point's gateway tag is the best gateway.
    return (
        f"SELECT last(rssi) AS rssi FROM wristband WHERE device = {_quoted(mac)} "  # noqa: S608
        f"AND {_between(now - LAST_HEARD_WINDOW, now)} GROUP BY gateway"
    )


def parse_band_heard(result: dict[str, Any]) -> tuple[datetime, str, float | None] | None:
    """The newest (time, gateway, rssi) among the gateways that heard the band."""
    best: tuple[datetime, str, float | None] | None = None
    for series in _series(result):
        gateway = series.get("tags", {}).get("gateway")
        values = series.get("values") or []
        if not gateway or not values:
            continue
        row = dict(zip(series["columns"], values[0], strict=False))
        at = _instant(row["time"])
        rssi = row.get("rssi")
        if best is None or at > best[0]:
            best = (at, gateway, float(rssi) if isinstance(rssi, int | float) else None)
    return best


async def band_heard(
    source: Queries, mac: str, now: datetime
) -> tuple[datetime, str, float | None] | None:
    return parse_band_heard(await source.query(band_heard_query(mac, now)))


def meters_latest_query(meter_ids: Iterable[str], now: datetime) -> str:
    devices = " OR ".join(f"device = {_quoted(m)}" for m in meter_ids)
    return (
        f"SELECT last(*) FROM meter WHERE ({devices}) "  # noqa: S608
        f"AND {_between(now - LAST_HEARD_WINDOW, now)} GROUP BY device"
    )


def parse_meters_latest(result: dict[str, Any]) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """Per meter, its last reading's time and fields (``last_`` prefixes removed)."""
    out: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for series in _series(result):
        device = series.get("tags", {}).get("device")
        values = series.get("values") or []
        if not device or not values:
            continue
        row = dict(zip(series["columns"], values[0], strict=False))
        at = _instant(row.pop("time"))
        fields = {k.removeprefix("last_"): v for k, v in row.items() if v is not None}
        fields.pop("rssi", None)
        out[device] = (at, fields)
    return out


async def meters_latest(
    source: Queries, meter_ids: list[str], now: datetime
) -> dict[str, tuple[datetime, dict[str, Any]]]:
    if not meter_ids:
        return {}
    return parse_meters_latest(await source.query(meters_latest_query(meter_ids, now)))


# -- a resident's charts ---------------------------------------------------------------
# Day buckets are local days (InfluxQL's tz() clause), so a day's steps are the day the
# resident lived. Long spans are asked for as daily or hourly aggregates, never as raw
# points: 90 days of a band are at most 90 + 2,160 rows, whatever it sends.


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", "UTC"))


def _day(ms: Any, zone: tzinfo) -> date:
    return _instant(ms).astimezone(zone).date()


RAW_SOURCE = ""  # the default retention policy: raw readings


def _from(policy: str, measurement: str) -> str:
    return f'"{policy}"."{measurement}"' if policy else measurement


def day_spans(
    since: datetime, until: datetime, now: datetime, raw_days: int, zone: tzinfo
) -> list[tuple[str, datetime, datetime]]:
    """Where each part of a day-level chart's span is read: days the raw policy no longer
    holds (with a day of margin: InfluxDB drops expired data a shard at a time) from the
    hourly aggregates, the rest from raw readings; split at a local midnight, so no day
    is read from both."""
    if raw_days == 0:
        return [(RAW_SOURCE, since, until)]
    edge_day = (now - timedelta(days=raw_days - 1)).astimezone(zone).date() + timedelta(days=1)
    edge = datetime.combine(edge_day, datetime.min.time(), zone)
    if edge <= since:
        return [(RAW_SOURCE, since, until)]
    if edge >= until:
        return [(retention.HOURLY, since, until)]
    return [(retention.HOURLY, since, edge), (RAW_SOURCE, edge, until)]


def steps_per_day_query(
    mac: str, since: datetime, until: datetime, zone: tzinfo, policy: str = RAW_SOURCE
) -> str:
    # The band's step counter only grows (until it wraps or restarts at midnight):
    # a day's steps are its spread, the largest minus the smallest count of the day
    # (from hourly aggregates, the count at the end of each hour: the first hour's
    # steps of such a day are not counted).
    return (
        f"SELECT spread(steps) FROM {_from(policy, 'wristband')} "  # noqa: S608
        f"WHERE device = {_quoted(mac)} "
        f"AND {_between(since, until)} GROUP BY time(1d) fill(none) tz('{_zone_name(zone)}')"
    )


def active_minutes_per_hour_query(mac: str, since: datetime, until: datetime, zone: tzinfo) -> str:
    # A minute is active when any reading in it says the band was moving.
    return (
        "SELECT count(c) FROM (SELECT count(moving) AS c FROM wristband "  # noqa: S608
        f"WHERE device = {_quoted(mac)} AND moving = true AND {_between(since, until)} "
        "GROUP BY time(1m) fill(none)) "
        f"WHERE {_between(since, until)} GROUP BY time(1h) fill(none) tz('{_zone_name(zone)}')"
    )


def battery_series_query(
    mac: str, since: datetime, until: datetime, policy: str = RAW_SOURCE
) -> str:
    return (
        f"SELECT mean(battery) FROM {_from(policy, 'wristband')} "  # noqa: S608
        f"WHERE device = {_quoted(mac)} "
        f"AND {_between(since, until)} GROUP BY time(6h) fill(none)"
    )


def meters_per_day_query(
    meter_ids: Iterable[str],
    since: datetime,
    until: datetime,
    zone: tzinfo,
    policy: str = RAW_SOURCE,
) -> str:
    devices = " OR ".join(f"device = {_quoted(m)}" for m in meter_ids)
    # Register readings are totals: a day's use is the day's spread.
    return (
        "SELECT spread(energy_kwh) AS energy_kwh, spread(volume_m3) AS volume_m3 "  # noqa: S608
        f"FROM {_from(policy, 'meter')} WHERE ({devices}) AND {_between(since, until)} "
        f"GROUP BY time(1d), device fill(none) tz('{_zone_name(zone)}')"
    )


def _rows(result: dict[str, Any]) -> Iterable[tuple[dict[str, str], dict[str, Any]]]:
    for series in _series(result):
        tags = series.get("tags", {}) or {}
        for values in series.get("values", []) or []:
            yield tags, dict(zip(series["columns"], values, strict=False))


def parse_daily(result: dict[str, Any], zone: tzinfo) -> dict[date, float]:
    out: dict[date, float] = {}
    for _, row in _rows(result):
        value = next((v for k, v in row.items() if k != "time"), None)
        if isinstance(value, int | float):
            out[_day(row["time"], zone)] = float(value)
    return out


def parse_hourly(result: dict[str, Any]) -> dict[datetime, float]:
    out: dict[datetime, float] = {}
    for _, row in _rows(result):
        value = next((v for k, v in row.items() if k != "time"), None)
        if isinstance(value, int | float):
            out[_instant(row["time"])] = float(value)
    return out


def parse_meters_per_day(
    result: dict[str, Any], zone: tzinfo
) -> dict[str, dict[date, dict[str, float]]]:
    out: dict[str, dict[date, dict[str, float]]] = {}
    for tags, row in _rows(result):
        device = tags.get("device")
        if not device:
            continue
        day = _day(row["time"], zone)
        for name in ("energy_kwh", "volume_m3"):
            value = row.get(name)
            if isinstance(value, int | float):
                out.setdefault(device, {}).setdefault(day, {})[name] = float(value)
    return out


async def resident_activity(
    source: Queries,
    mac: str,
    since: datetime,
    until: datetime,
    zone: tzinfo,
    *,
    now: datetime,
    raw_days: int,
) -> tuple[dict[date, float], dict[datetime, float]]:
    """Steps per local day (older days from the hourly aggregates) and active minutes
    per hour of one band (raw readings only: a minute's movement is not aggregated, so
    active minutes reach back as far as raw readings are kept)."""
    steps: dict[date, float] = {}
    for policy, start, end in day_spans(since, until, now, raw_days, zone):
        query = steps_per_day_query(mac, start, end, zone, policy)
        steps.update(parse_daily(await source.query(query), zone))
    active = parse_hourly(
        await source.query(active_minutes_per_hour_query(mac, since, until, zone))
    )
    return steps, active


async def battery_series(
    source: Queries,
    mac: str,
    since: datetime,
    until: datetime,
    *,
    now: datetime,
    raw_days: int,
    zone: tzinfo,
) -> list[tuple[datetime, float]]:
    out: dict[datetime, float] = {}
    for policy, start, end in day_spans(since, until, now, raw_days, zone):
        out.update(parse_hourly(await source.query(battery_series_query(mac, start, end, policy))))
    return sorted(out.items())


async def meters_per_day(
    source: Queries,
    meter_ids: list[str],
    since: datetime,
    until: datetime,
    zone: tzinfo,
    *,
    now: datetime,
    raw_days: int,
) -> dict[str, dict[date, dict[str, float]]]:
    if not meter_ids:
        return {}
    out: dict[str, dict[date, dict[str, float]]] = {}
    for policy, start, end in day_spans(since, until, now, raw_days, zone):
        query = meters_per_day_query(meter_ids, start, end, zone, policy)
        for device, days in parse_meters_per_day(await source.query(query), zone).items():
            out.setdefault(device, {}).update(days)
    return out


def meters_per_hour_query(meter_ids: Iterable[str], since: datetime, until: datetime) -> str:
    devices = " OR ".join(f"device = {_quoted(m)}" for m in meter_ids)
    return (
        "SELECT spread(energy_kwh) AS energy_kwh, spread(volume_m3) AS volume_m3 "  # noqa: S608
        f"FROM meter WHERE ({devices}) AND {_between(since, until)} "
        "GROUP BY time(1h), device fill(none)"
    )


def parse_meters_per_hour(result: dict[str, Any]) -> dict[str, dict[datetime, dict[str, float]]]:
    out: dict[str, dict[datetime, dict[str, float]]] = {}
    for tags, row in _rows(result):
        device = tags.get("device")
        if not device:
            continue
        hour = _instant(row["time"])
        for name in ("energy_kwh", "volume_m3"):
            value = row.get(name)
            if isinstance(value, int | float):
                out.setdefault(device, {}).setdefault(hour, {})[name] = float(value)
    return out


async def meters_per_hour(
    source: Queries, meter_ids: list[str], since: datetime, until: datetime
) -> dict[str, dict[datetime, dict[str, float]]]:
    """Use per hour of the flat's meters (spread of the registers' totals in each hour)."""
    if not meter_ids:
        return {}
    return parse_meters_per_hour(await source.query(meters_per_hour_query(meter_ids, since, until)))
