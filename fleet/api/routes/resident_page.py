"""One resident on one page: who and where they are, who is called for them, their care
plan and whether the gateways run it, their band, their flat's meters, their alerts.

``GET /api/v1/residents/{id}/overview`` answers in the caller's scope: staff of the
resident's town, admins, and the resident's own caregivers; anyone else gets the 404
a missing resident gets. Phone numbers appear here (for the page's call links) and
nowhere in lists; the band's figures come from the time series, and when InfluxDB
does not answer the page still shows everything else and says why.
"""

import asyncio
import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from contract.careplan import CarePlan
from contract.meters import MeterConfig
from fleet.api.deps import BatteryDep, CallerDep, InfluxDep, SessionsDep
from fleet.api.routes.alerts import AlertOut, named
from fleet.api.schemas import IdPath, SetAsideOut
from fleet.auth import Caller
from fleet.db.models import (
    Alert,
    Caregiver,
    Community,
    Gateway,
    GatewayCommunity,
    Grid,
    Meter,
    Resident,
    Town,
    Wristband,
)
from fleet.db.session import utcnow
from fleet.errors import NotFound
from fleet.registry import careplans, scope
from fleet.timeseries import history
from fleet.timeseries.influx import InfluxError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/residents", tags=["residents"])

PAST_ALERTS = 20


class ContactOut(BaseModel):
    id: str
    display_name: str
    kind: str = Field(description="family | grid_worker")
    phone: str | None = Field(description="for a call link; only on this page")
    priority: int | None = Field(description="called in this order; none for the grid worker")


class PlaceOut(BaseModel):
    id: str | None
    name: str | None


class GatewayConfigOut(BaseModel):
    id: str
    location: str
    state: str
    desired_version: int = Field(description="the config version the fleet wants it to run")
    reported_version: int | None = Field(description="the version it says it applied")
    reported_ok: bool | None
    reported_error: str | None
    reported_at: datetime | None
    in_sync: bool
    set_aside: list[SetAsideOut] = Field(description="what it could not apply about this resident")


class BandOut(BaseModel):
    mac: str
    firmware: str
    level: float | None
    level_at: datetime | None
    days_left: float | None
    drain_per_day: float | None
    low: bool
    abnormal: bool
    last_heard_at: datetime | None
    best_gateway: str | None = Field(description="the gateway that hears it best, lately")
    rssi: float | None = Field(description="dBm at that gateway")


class MeterOut(BaseModel):
    id: str
    gateway_id: str
    kind: str | None
    last_at: datetime | None
    values: dict[str, Any]


class ResidentOverviewOut(BaseModel):
    id: str
    display_name: str
    address: str
    flat: str | None
    lives_alone: bool
    health_notes: str
    town: PlaceOut
    community: PlaceOut
    grid: PlaceOut
    caregivers: list[ContactOut]
    grid_worker: ContactOut | None
    care_plan: CarePlan
    medication_labels: dict[str, str]
    updated_at: datetime | None
    gateways: list[GatewayConfigOut]
    band: BandOut | None
    meters: list[MeterOut]
    open_alerts: list[AlertOut]
    past_alerts: list[AlertOut]
    timeseries_problem: str | None = Field(description="why band or meter figures are missing")


def _utility(meter: Meter) -> str | None:
    try:
        return MeterConfig.model_validate(meter.config).utility
    except ValueError:
        return None  # a declaration of an older schema: the page still lists the meter


def _contact(c: Caregiver, priority: int | None) -> ContactOut:
    return ContactOut(
        id=c.id, display_name=c.display_name, kind=c.kind, phone=c.phone, priority=priority
    )


def _registry(sessions: SessionsDep, caller: Caller, resident_id: str) -> dict[str, Any]:
    """Everything the registry knows, read in one session in a worker thread."""
    with sessions() as session:
        resident = session.execute(
            select(Resident)
            .where(Resident.id == resident_id, scope.residents(caller))
            .options(selectinload(Resident.caregivers))
        ).scalar_one_or_none()
        if resident is None:
            raise NotFound(f"resident {resident_id} not found")
        return _collect(session, caller, resident)


def _collect(session: Session, caller: Caller, resident: Resident) -> dict[str, Any]:
    community = session.get(Community, resident.community_id) if resident.community_id else None
    grid = session.get(Grid, resident.grid_id) if resident.grid_id else None
    links = sorted(resident.caregivers, key=lambda link: link.priority)
    contacts = {
        c.id: c
        for c in session.execute(
            select(Caregiver).where(Caregiver.id.in_([link.caregiver_id for link in links]))
        ).scalars()
    }
    worker = session.get(Caregiver, grid.worker_id) if grid and grid.worker_id else None
    band = session.execute(
        select(Wristband).where(Wristband.resident_id == resident.id, Wristband.state == "active")
    ).scalar_one_or_none()
    gateways = []
    if resident.community_id is not None:
        rows = session.execute(
            select(Gateway)
            .join(GatewayCommunity, GatewayCommunity.gateway_id == Gateway.id)
            .where(GatewayCommunity.community_id == resident.community_id)
            .order_by(Gateway.id)
        ).scalars()
        for g in rows:
            mine = {resident.id, band.mac if band else "", resident.flat or ""}
            gateways.append(
                GatewayConfigOut(
                    id=g.id,
                    location=g.location,
                    state=g.state,
                    desired_version=g.desired_version,
                    reported_version=g.reported_version,
                    reported_ok=g.reported_ok,
                    reported_error=g.reported_error,
                    reported_at=g.reported_at,
                    in_sync=g.reported_version == g.desired_version,
                    set_aside=[
                        SetAsideOut(**part)
                        for part in g.reported_set_aside or []
                        if part.get("name") in mine
                    ],
                )
            )
    meters: list[Meter] = []
    if resident.flat and resident.community_id:
        meters = list(
            session.execute(
                select(Meter)
                .where(Meter.flat == resident.flat, Meter.community_id == resident.community_id)
                .order_by(Meter.id)
            ).scalars()
        )
    visible = scope.alerts(caller)
    open_alerts = session.execute(
        select(Alert)
        .where(visible, Alert.resident_id == resident.id, Alert.resolved_at.is_(None))
        .order_by(Alert.id.desc())
    ).scalars()
    past_alerts = session.execute(
        select(Alert)
        .where(visible, Alert.resident_id == resident.id, Alert.resolved_at.is_not(None))
        .order_by(Alert.id.desc())
        .limit(PAST_ALERTS)
    ).scalars()
    town = session.get(Town, community.town_id) if community else None
    return {
        "resident": {
            "id": resident.id,
            "display_name": resident.display_name,
            "address": resident.address,
            "flat": resident.flat,
            "lives_alone": resident.lives_alone,
            "health_notes": resident.health_notes,
            "care_plan": careplans.load(resident.id, resident.settings),
            "medication_labels": dict(resident.medication_labels or {}),
            "updated_at": resident.updated_at,
            "town": PlaceOut(id=town.id if town else None, name=town.name if town else None),
            "community": PlaceOut(
                id=resident.community_id, name=community.name if community else None
            ),
            "grid": PlaceOut(id=resident.grid_id, name=grid.name if grid else None),
            "caregivers": [
                _contact(contacts[link.caregiver_id], link.priority)
                for link in links
                if link.caregiver_id in contacts
            ],
            "grid_worker": _contact(worker, None) if worker else None,
            "gateways": gateways,
            "open_alerts": named(session, list(open_alerts)),
            "past_alerts": named(session, list(past_alerts)),
        },
        "band": (band.mac, band.firmware) if band else None,
        "meters": [(m.id, m.gateway_id, _utility(m)) for m in meters],
    }


@router.get("/{resident_id}/overview", response_model=ResidentOverviewOut)
async def resident_overview(
    resident_id: IdPath,
    caller: CallerDep,
    sessions: SessionsDep,
    influx: InfluxDep,
    cache: BatteryDep,
) -> ResidentOverviewOut:
    found = await asyncio.to_thread(_registry, sessions, caller, resident_id)
    now = utcnow()
    problem: str | None = None
    band: BandOut | None = None
    meter_values: dict[str, tuple[datetime, dict[str, Any]]] = {}
    try:
        if found["band"] is not None:
            mac, firmware = found["band"]
            report = await cache.get(now)
            figures = report.bands.get(mac)
            heard = await history.band_heard(influx, mac, now)
            band = BandOut(
                mac=mac,
                firmware=firmware,
                level=figures.level if figures else None,
                level_at=figures.level_at if figures else None,
                days_left=figures.days_left if figures else None,
                drain_per_day=figures.drain_per_day if figures else None,
                low=figures.low if figures else False,
                abnormal=figures.abnormal if figures else False,
                last_heard_at=heard[0] if heard else None,
                best_gateway=heard[1] if heard else None,
                rssi=heard[2] if heard else None,
            )
        meter_values = await history.meters_latest(influx, [m[0] for m in found["meters"]], now)
    except InfluxError as exc:
        problem = f"time series unavailable: {exc}"
        log.warning("resident page: %s", problem)
    if band is None and found["band"] is not None:
        mac, firmware = found["band"]
        band = BandOut(
            mac=mac,
            firmware=firmware,
            level=None,
            level_at=None,
            days_left=None,
            drain_per_day=None,
            low=False,
            abnormal=False,
            last_heard_at=None,
            best_gateway=None,
            rssi=None,
        )
    meters = [
        MeterOut(
            id=meter_id,
            gateway_id=gateway_id,
            kind=kind,
            last_at=meter_values[meter_id][0] if meter_id in meter_values else None,
            values=meter_values[meter_id][1] if meter_id in meter_values else {},
        )
        for meter_id, gateway_id, kind in found["meters"]
    ]
    return ResidentOverviewOut(
        **found["resident"], band=band, meters=meters, timeseries_problem=problem
    )
