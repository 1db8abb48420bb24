"""Battery health per wristband: last level, discharge slope, days left, abnormal drain.

Figures come from a week of InfluxDB history (``fleet/timeseries/history.py``), are
computed for the whole fleet at once (abnormal drain compares a band with the fleet's
median) by ``fleet/battery.py``, and reused for ``battery_cache_s``. Each caller gets
the bands they may see: admins all, staff their town's, caregivers their residents'.
While InfluxDB is unreachable the bands are still listed, without figures, and the
answer says why.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from fleet import battery
from fleet.api.deps import BatteryDep, CallerDep, SessionsDep
from fleet.api.paging import ListQueryDep, csv_response, page_items
from fleet.api.schemas import OpaqueId
from fleet.auth import Caller
from fleet.db.models import Resident, Wristband
from fleet.db.session import utcnow
from fleet.registry import audit, scope
from fleet.timeseries import history
from fleet.timeseries.influx import InfluxError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/battery", tags=["battery"])


class BandBatteryOut(BaseModel):
    mac: str
    resident_id: str | None
    resident_name: str | None = None
    community_id: str | None
    level: float | None = Field(description="percent, the last reading")
    level_at: datetime | None
    drain_per_day: float | None = Field(
        description="percentage points lost per day since the last charge (least squares)"
    )
    days_left: float | None = Field(description="until empty at the current drain")
    days_to_low: float | None = Field(description="until the low threshold (20 %)")
    cycle_start: datetime | None = Field(description="first reading since the last charge")
    low: bool
    critical: bool
    charge_soon: bool = Field(description="reaches the low threshold within 3 days")
    abnormal: bool = Field(description="drains at least twice as fast as the fleet's median")
    not_heard: bool = Field(description="no reading for an hour or more (or none at all)")


class ThresholdsOut(BaseModel):
    low_pct: float
    critical_pct: float
    warn_days: float
    abnormal_factor: float
    not_heard_s: int
    window_days: float


class BatteryOut(BaseModel):
    available: bool = Field(description="false while the time series cannot be read")
    problem: str | None
    computed_at: datetime | None
    median_drain_per_day: float | None = Field(description="over the whole fleet")
    bands_with_slope: int
    thresholds: ThresholdsOut
    total: int = Field(0, description="bands matching the filters (all pages)")
    bands: list[BandBatteryOut]


_THRESHOLDS = ThresholdsOut(
    low_pct=battery.LOW_PCT,
    critical_pct=battery.CRITICAL_PCT,
    warn_days=battery.WARN_DAYS,
    abnormal_factor=battery.ABNORMAL_FACTOR,
    not_heard_s=int(battery.NOT_HEARD.total_seconds()),
    window_days=history.BATTERY_WINDOW.total_seconds() / 86_400,
)


Flag = Literal["critical", "low", "charge_soon", "abnormal", "not_heard", "attention"]


def _concern(b: BandBatteryOut) -> int:
    """Most urgent first: critical, abnormal drain, low, charge soon, not heard, fine."""
    for rank, flag in enumerate(("critical", "abnormal", "low", "charge_soon", "not_heard")):
        if getattr(b, flag):
            return rank
    return 5


BATTERY_SORTS: dict[str, Callable[[BandBatteryOut], Any]] = {
    "concern": lambda b: (_concern(b), b.days_left, b.mac),
    "level": lambda b: (b.level, b.mac),
    "days_left": lambda b: (b.days_left, b.mac),
    "drain": lambda b: (b.drain_per_day, b.mac),
    "read": lambda b: (b.level_at, b.mac),
    "mac": lambda b: b.mac,
    "resident": lambda b: (b.resident_name, b.mac),
}
BATTERY_CSV = (
    "mac",
    "resident_id",
    "resident",
    "community_id",
    "level_pct",
    "read_at",
    "drain_per_day",
    "days_left",
    "flags",
)
_FLAGS = ("critical", "low", "charge_soon", "abnormal", "not_heard")


class _Band(NamedTuple):
    mac: str
    resident_id: str | None
    resident_name: str | None
    community_id: str | None


def _visible_bands(
    sessions: SessionsDep, caller: Caller, community_id: str | None, grid_id: str | None
) -> list[_Band]:
    query = (
        select(Wristband.mac, Wristband.resident_id, Resident.display_name, Wristband.community_id)
        .outerjoin(Resident, Resident.id == Wristband.resident_id)
        .where(scope.wristbands(caller), Wristband.state == "active")
        .order_by(Wristband.mac)
    )
    if community_id is not None:
        query = query.where(Wristband.community_id == community_id)
    if grid_id is not None:
        query = query.where(Resident.grid_id == grid_id)
    with sessions() as session:
        return [_Band(*row) for row in session.execute(query)]


def _audit_export(sessions: SessionsDep, caller: Caller, rows: int) -> None:
    with sessions.begin() as session:
        audit.record(session, caller, "battery.export", "battery", rows=rows)


def _matches(band: BandBatteryOut, flag: Flag | None, text: str | None) -> bool:
    if flag == "attention" and _concern(band) >= 3:
        return False
    if flag not in (None, "attention") and not getattr(band, str(flag)):
        return False
    if text is None:
        return True
    text = text.lower()
    return any(text in (v or "").lower() for v in (band.mac, band.resident_id, band.resident_name))


@router.get("", response_model=BatteryOut)
async def get_battery(
    *,
    caller: CallerDep,
    sessions: SessionsDep,
    cache: BatteryDep,
    response: Response,
    params: ListQueryDep,
    community_id: Annotated[OpaqueId | None, Query()] = None,
    grid_id: Annotated[OpaqueId | None, Query()] = None,
    flag: Annotated[Flag | None, Query(description="only bands with this flag")] = None,
) -> BatteryOut | Response:
    """Every band the caller may see with its figures, most urgent first by default;
    paged (``X-Total-Count`` and ``total``), ``q`` searches MAC and wearer, ``flag``
    keeps the bands that need something; ``format=csv`` exports the list."""
    bands = await asyncio.to_thread(_visible_bands, sessions, caller, community_id, grid_id)
    now = utcnow()
    report: battery.FleetBattery | None = None
    problem = None
    try:
        report = await cache.get(now)
    except InfluxError as exc:
        problem = f"battery history unavailable: {exc}"
        log.warning("battery: %s", problem)
    out = []
    for band in bands:
        figures = report.bands.get(band.mac) if report is not None else None
        values = asdict(figures or battery.never_heard(band.mac))
        values.pop("device")
        out.append(
            BandBatteryOut(
                mac=band.mac,
                resident_id=band.resident_id,
                resident_name=band.resident_name,
                community_id=band.community_id,
                **values,
            )
        )
    matching = [b for b in out if _matches(b, flag, params.search)]
    page = page_items(matching, params, response, sorts=BATTERY_SORTS, default_sort="concern")
    if params.csv:
        await asyncio.to_thread(_audit_export, sessions, caller, len(page))
        return csv_response(
            "battery.csv",
            BATTERY_CSV,
            (
                (
                    b.mac,
                    b.resident_id,
                    b.resident_name,
                    b.community_id,
                    b.level,
                    b.level_at.isoformat() if b.level_at else "",
                    None if b.drain_per_day is None else round(b.drain_per_day, 2),
                    None if b.days_left is None else round(b.days_left, 1),
                    " ".join(f for f in _FLAGS if getattr(b, f)),
                )
                for b in page
            ),
        )
    return BatteryOut(
        available=report is not None,
        problem=problem,
        computed_at=report.computed_at if report else None,
        median_drain_per_day=report.median_drain_per_day if report else None,
        bands_with_slope=report.bands_with_slope if report else 0,
        thresholds=_THRESHOLDS,
        total=len(matching),
        bands=page,
    )
