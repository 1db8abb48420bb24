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
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from fleet import battery
from fleet.api.deps import BatteryDep, CallerDep, SessionsDep
from fleet.api.schemas import OpaqueId
from fleet.auth import Caller
from fleet.db.models import Wristband
from fleet.db.session import utcnow
from fleet.registry import scope
from fleet.timeseries import history
from fleet.timeseries.influx import InfluxError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/battery", tags=["battery"])


class BandBatteryOut(BaseModel):
    mac: str
    resident_id: str | None
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
    bands: list[BandBatteryOut]


_THRESHOLDS = ThresholdsOut(
    low_pct=battery.LOW_PCT,
    critical_pct=battery.CRITICAL_PCT,
    warn_days=battery.WARN_DAYS,
    abnormal_factor=battery.ABNORMAL_FACTOR,
    not_heard_s=int(battery.NOT_HEARD.total_seconds()),
    window_days=history.BATTERY_WINDOW.total_seconds() / 86_400,
)


def _visible_bands(
    sessions: SessionsDep, caller: Caller, community_id: str | None
) -> list[tuple[str, str | None, str | None]]:
    query = (
        select(Wristband.mac, Wristband.resident_id, Wristband.community_id)
        .where(scope.wristbands(caller), Wristband.state == "active")
        .order_by(Wristband.mac)
    )
    if community_id is not None:
        query = query.where(Wristband.community_id == community_id)
    with sessions() as session:
        return [(mac, resident, community) for mac, resident, community in session.execute(query)]


@router.get("", response_model=BatteryOut)
async def get_battery(
    *,
    caller: CallerDep,
    sessions: SessionsDep,
    cache: BatteryDep,
    community_id: Annotated[OpaqueId | None, Query()] = None,
) -> BatteryOut:
    bands = await asyncio.to_thread(_visible_bands, sessions, caller, community_id)
    now = utcnow()
    report: battery.FleetBattery | None = None
    problem = None
    try:
        report = await cache.get(now)
    except InfluxError as exc:
        problem = f"battery history unavailable: {exc}"
        log.warning("battery: %s", problem)
    out = []
    for mac, resident_id, band_community in bands:
        figures = report.bands.get(mac) if report is not None else None
        values = asdict(figures or battery.never_heard(mac))
        values.pop("device")
        out.append(
            BandBatteryOut(mac=mac, resident_id=resident_id, community_id=band_community, **values)
        )
    return BatteryOut(
        available=report is not None,
        problem=problem,
        computed_at=report.computed_at if report else None,
        median_drain_per_day=report.median_drain_per_day if report else None,
        bands_with_slope=report.bands_with_slope if report else 0,
        thresholds=_THRESHOLDS,
        bands=out,
    )
