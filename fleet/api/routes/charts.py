"""The figures behind the console's charts, as daily series ready to draw.

* ``GET /api/v1/residents/{id}/charts?days=30|90``: one resident's steps and active
  minutes per day against their own baseline (the median of their other days), night
  activity (active minutes between 22:00 and 06:00, counted to the morning it ends),
  the flat's water and electricity per day and, for the last 48 hours, per hour, and the band's battery over 30 days with
  the day it is predicted to run empty. From InfluxDB, as daily and hourly aggregates
  (``fleet/timeseries/history.py``); scoped like the resident's page.
* ``GET /api/v1/charts/alerts?days=30``: alerts opened per day by incident, and the
  median time to acknowledge, in the caller's scope (from the registry).

Days are local days of the district (``fleet.clock.zone()``). A day without data is
``null``, never 0: "no reading" and "did not move" are different things to a nurse.
"""

import asyncio
import logging
import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from fleet import clock
from fleet.api.deps import (
    BatteryDep,
    CallerDep,
    InfluxDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
)
from fleet.api.schemas import IdPath, OpaqueId
from fleet.auth import Caller
from fleet.db.models import Alert, Meter, Resident, Wristband
from fleet.db.session import utcnow
from fleet.errors import NotFound
from fleet.registry import scope
from fleet.timeseries import history
from fleet.timeseries.influx import InfluxError

log = logging.getLogger(__name__)

router = APIRouter(tags=["charts"])

Days = Annotated[int, Query(ge=7, le=90, description="how many days back, today included")]
BATTERY_DAYS = 30
HOURS = 48  # the hourly use of water and electricity: today and yesterday
NIGHT_STARTS, NIGHT_ENDS = 22, 6  # local hours


class BatteryPointOut(BaseModel):
    at: datetime
    level: float


class ResidentChartsOut(BaseModel):
    days: list[date]
    steps: list[float | None]
    active_minutes: list[float | None]
    night_active_minutes: list[float | None] = Field(
        description="22:00-06:00, counted to the morning the night ends"
    )
    baseline_steps: float | None = Field(description="median of the resident's other days")
    baseline_active_minutes: float | None
    baseline_night_active_minutes: float | None
    water_m3: list[float | None]
    electricity_kwh: list[float | None]
    hours: list[datetime] = Field(description="the last 48 hours, for the hourly use")
    water_m3_hourly: list[float | None]
    electricity_kwh_hourly: list[float | None]
    battery: list[BatteryPointOut] = Field(description="6-hour means over 30 days")
    battery_days_left: float | None
    battery_empty_on: date | None = Field(description="predicted at the current drain")
    problem: str | None = Field(description="why figures are missing: InfluxDB did not answer")


class AlertsPerDayOut(BaseModel):
    days: list[date]
    by_incident: dict[str, list[int]]
    acknowledged_median_s: list[float | None] = Field(
        description="median time from opening to acknowledgement of that day's alerts"
    )
    total: int


def _span(days: int, now: datetime) -> tuple[list[date], datetime]:
    today = now.astimezone(clock.zone()).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first - timedelta(days=1), time(NIGHT_STARTS), clock.zone())
    return [first + timedelta(days=i) for i in range(days)], start


def _baseline(values: list[float | None]) -> float | None:
    """The median of the days with data before today: today is still being lived."""
    known = [v for v in values[:-1] if v is not None]
    return statistics.median(known) if len(known) >= 3 else None


def _resident(
    sessions: SessionsDep, caller: Caller, resident_id: str
) -> tuple[str | None, dict[str, str]]:
    with sessions() as session:
        resident = session.execute(
            select(Resident).where(Resident.id == resident_id, scope.residents(caller))
        ).scalar_one_or_none()
        if resident is None:
            raise NotFound(f"resident {resident_id} not found")
        mac = session.execute(
            select(Wristband.mac).where(
                Wristband.resident_id == resident.id, Wristband.state == "active"
            )
        ).scalar_one_or_none()
        meters: dict[str, str] = {}
        if resident.flat and resident.community_id:
            for meter in session.execute(
                select(Meter).where(
                    Meter.flat == resident.flat, Meter.community_id == resident.community_id
                )
            ).scalars():
                meters[meter.id] = meter.id
        return mac, meters


@router.get("/api/v1/residents/{resident_id}/charts", response_model=ResidentChartsOut)
async def resident_charts(
    *,
    resident_id: IdPath,
    caller: CallerDep,
    sessions: SessionsDep,
    influx: InfluxDep,
    cache: BatteryDep,
    settings: SettingsDep,
    days: Days = 30,
) -> ResidentChartsOut:
    mac, meters = await asyncio.to_thread(_resident, sessions, caller, resident_id)
    raw_days = settings.influx.raw_retention_days
    now = utcnow()
    zone = clock.zone()
    day_list, since = _span(days, now)
    steps: dict[date, float] = {}
    hourly: dict[datetime, float] = {}
    usage: dict[str, dict[date, dict[str, float]]] = {}
    hour_list = [
        now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1 - i)
        for i in range(HOURS)
    ]
    hourly_use: dict[str, dict[datetime, dict[str, float]]] = {}
    battery: list[tuple[datetime, float]] = []
    days_left: float | None = None
    problem = None
    try:
        if mac is not None:
            steps, hourly = await history.resident_activity(
                influx, mac, since, now, zone, now=now, raw_days=raw_days
            )
            battery = await history.battery_series(
                influx,
                mac,
                now - timedelta(days=BATTERY_DAYS),
                now,
                now=now,
                raw_days=raw_days,
                zone=zone,
            )
            figures = (await cache.get(now)).bands.get(mac)
            days_left = figures.days_left if figures else None
        usage = await history.meters_per_day(
            influx, list(meters), since, now, zone, now=now, raw_days=raw_days
        )
        hourly_use = await history.meters_per_hour(influx, list(meters), hour_list[0], now)
    except InfluxError as exc:
        problem = f"time series unavailable: {exc}"
        log.warning("charts: %s", problem)
    active: dict[date, float] = defaultdict(float)
    night: dict[date, float] = defaultdict(float)
    for at, minutes in hourly.items():
        local = at.astimezone(zone)
        active[local.date()] += minutes
        if local.hour >= NIGHT_STARTS:
            night[local.date() + timedelta(days=1)] += minutes
        elif local.hour < NIGHT_ENDS:
            night[local.date()] += minutes
    heard = set(steps) | set(active)  # a day the band reported at all

    def daily(values: dict[date, float], zero_when_heard: bool) -> list[float | None]:
        return [values.get(d, 0.0 if zero_when_heard and d in heard else None) for d in day_list]

    def metered(field: str) -> list[float | None]:
        out: list[float | None] = []
        for d in day_list:
            found = [per_day[d][field] for per_day in usage.values() if field in per_day.get(d, {})]
            out.append(round(sum(found), 3) if found else None)
        return out

    def per_hour(field: str) -> list[float | None]:
        out: list[float | None] = []
        for hour in hour_list:
            found = [h[hour][field] for h in hourly_use.values() if field in h.get(hour, {})]
            out.append(round(sum(found), 4) if found else None)
        return out

    steps_list = daily(steps, zero_when_heard=False)
    active_list = daily(active, zero_when_heard=True)
    night_list = daily(night, zero_when_heard=True)
    empty_on = (now + timedelta(days=days_left)).astimezone(zone).date() if days_left else None
    return ResidentChartsOut(
        days=day_list,
        steps=steps_list,
        active_minutes=active_list,
        night_active_minutes=night_list,
        baseline_steps=_baseline(steps_list),
        baseline_active_minutes=_baseline(active_list),
        baseline_night_active_minutes=_baseline(night_list),
        water_m3=metered("volume_m3"),
        electricity_kwh=metered("energy_kwh"),
        hours=hour_list,
        water_m3_hourly=per_hour("volume_m3"),
        electricity_kwh_hourly=per_hour("energy_kwh"),
        battery=[BatteryPointOut(at=at, level=round(level, 1)) for at, level in battery],
        battery_days_left=days_left,
        battery_empty_on=empty_on,
        problem=problem,
    )


@router.get("/api/v1/charts/alerts", response_model=AlertsPerDayOut)
def alerts_per_day(
    session: SessionDep,
    caller: CallerDep,
    days: Days = 30,
    community_id: Annotated[OpaqueId | None, Query()] = None,
) -> AlertsPerDayOut:
    zone = clock.zone()
    day_list, _ = _span(days, utcnow())
    since = datetime.combine(day_list[0], time(0), zone)
    query = select(Alert.opened_at, Alert.incident, Alert.kind, Alert.acknowledged_at).where(
        scope.alerts(caller), Alert.opened_at >= since
    )
    if community_id is not None:
        query = query.where(Alert.community_id == community_id)
    index = {d: i for i, d in enumerate(day_list)}
    by_incident: dict[str, list[int]] = {}
    waits: dict[date, list[float]] = defaultdict(list)
    total = 0
    for opened_at, incident, kind, acknowledged_at in session.execute(query):
        day = opened_at.astimezone(zone).date()
        if day not in index:
            continue
        total += 1
        series = by_incident.setdefault(incident or kind, [0] * len(day_list))
        series[index[day]] += 1
        if acknowledged_at is not None:
            waits[day].append((acknowledged_at - opened_at).total_seconds())
    return AlertsPerDayOut(
        days=day_list,
        by_incident=dict(sorted(by_incident.items())),
        acknowledged_median_s=[
            statistics.median(waits[d]) if waits.get(d) else None for d in day_list
        ],
        total=total,
    )
