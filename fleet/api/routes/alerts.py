"""Alerts: list, inspect, acknowledge, resolve."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from fleet.alerts import service
from fleet.api.deps import Caller, CallerDep, SessionDep
from fleet.auth import Role
from fleet.db.models import Alert, AlertLog, CareLink
from fleet.db.session import utcnow

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

AlertState = Literal["open", "notified", "acknowledged", "resolved"]
# Alert ids are 32-bit serials on PostgreSQL; a larger number is refused before any query.
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class AlertOut(BaseModel):
    id: int
    event_id: str
    kind: str
    severity: str
    device: str
    resident_id: str | None
    state: str
    opened_at: datetime
    notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    outcome: str | None
    note: str | None

    model_config = {"from_attributes": True}


class AlertLogOut(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: dict[str, object]

    model_config = {"from_attributes": True}


class AlertDetail(AlertOut):
    timeline: list[AlertLogOut]


class ResolveIn(BaseModel):
    outcome: Literal["attended", "false_alarm", "hospital", "no_answer", "other"]
    note: str = Field("", max_length=2000)


def _visible(session: SessionDep, caller: Caller, alert: Alert) -> bool:
    if caller.role is not Role.CAREGIVER:
        return True
    if alert.resident_id is None:
        return False
    link = session.get(CareLink, (alert.resident_id, caller.subject))
    return link is not None


def _get_visible(session: SessionDep, caller: Caller, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or not _visible(session, caller, alert):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")
    return alert


@router.get("", response_model=list[AlertOut])
def list_alerts(
    session: SessionDep,
    caller: CallerDep,
    state: Annotated[AlertState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Alert.state == state)
    if caller.role is Role.CAREGIVER:
        query = query.join(CareLink, CareLink.resident_id == Alert.resident_id).where(
            CareLink.caregiver_id == caller.subject
        )
    return list(session.execute(query).scalars().all())


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: AlertId, session: SessionDep, caller: CallerDep) -> AlertDetail:
    alert = _get_visible(session, caller, alert_id)
    timeline = (
        session.execute(select(AlertLog).where(AlertLog.alert_id == alert_id).order_by(AlertLog.id))
        .scalars()
        .all()
    )
    return AlertDetail(
        **AlertOut.model_validate(alert).model_dump(),
        timeline=[AlertLogOut.model_validate(entry) for entry in timeline],
    )


@router.post("/{alert_id}/ack", response_model=AlertOut)
def acknowledge(
    alert_id: AlertId, session: SessionDep, caller: CallerDep, request: Request
) -> Alert:
    _get_visible(session, caller, alert_id)
    alert = service.acknowledge(session, alert_id, f"{caller.role}:{caller.subject}", utcnow())
    session.commit()
    return alert


@router.post("/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: AlertId, body: ResolveIn, session: SessionDep, caller: CallerDep) -> Alert:
    _get_visible(session, caller, alert_id)
    try:
        alert = service.resolve(
            session,
            alert_id,
            actor=f"{caller.role}:{caller.subject}",
            outcome=body.outcome,
            note=body.note,
            now=utcnow(),
        )
    except service.AlertError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    session.commit()
    return alert
