"""Alerts: list, inspect (timeline, events, deliveries, escalation), acknowledge, resolve.

Admins see every alert, staff their town's, caregivers their residents'.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.alerts import service
from fleet.alerts.escalation import alert_policy
from fleet.alerts.lifecycle import AlertState
from fleet.api.deps import Caller, CallerDep, SessionDep
from fleet.api.schemas import OpaqueId
from fleet.db.models import (
    Alert,
    AlertLog,
    Delivery,
    EscalationTimer,
    EventRecord,
)
from fleet.db.session import utcnow
from fleet.errors import NotFound
from fleet.registry import scope

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

Incident = Literal["emergency", "inactivity", "medication", "water", "device"]
# Alert ids are 32-bit serials on PostgreSQL; a larger number is refused before any query.
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class AlertOut(BaseModel):
    id: int
    event_id: str
    kind: str
    severity: str
    incident: str | None
    device: str
    resident_id: str | None
    community_id: str | None
    state: str
    opened_at: datetime
    notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    outcome: str | None
    note: str | None
    escalation_round: int | None
    escalation_step: int | None

    model_config = {"from_attributes": True}


class AlertLogOut(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]

    model_config = {"from_attributes": True}


class EventOut(BaseModel):
    id: str
    kind: str
    severity: str
    gateway: str
    occurred_at: datetime
    detected_at: datetime
    received_at: datetime
    disposition: str | None

    model_config = {"from_attributes": True}


class DeliveryOut(BaseModel):
    id: int
    contact: str = Field(validation_alias="caregiver_id")
    channel: str | None = Field(validation_alias="channel_scheme")
    target: str | None
    round: int | None
    step: int | None
    status: str
    attempts: int
    due_at: datetime
    sent_at: datetime | None
    last_error: str | None

    model_config = {"from_attributes": True}


class EscalationOut(BaseModel):
    policy: dict[str, Any]
    next_round: int | None
    next_step: int | None
    next_due_at: datetime | None
    next_targets: list[str]


class AlertDetail(AlertOut):
    timeline: list[AlertLogOut]
    events: list[EventOut]
    deliveries: list[DeliveryOut]
    escalation: EscalationOut


class ResolveIn(BaseModel):
    outcome: Literal["attended", "false_alarm", "hospital", "no_answer", "other"]
    note: str = Field("", max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")


def _get_visible(session: Session, caller: Caller, alert_id: int) -> Alert:
    alert = session.execute(
        select(Alert).where(Alert.id == alert_id, scope.alerts(caller))
    ).scalar_one_or_none()
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    return alert


@router.get("", response_model=list[AlertOut])
def list_alerts(
    *,
    session: SessionDep,
    caller: CallerDep,
    state: Annotated[AlertState | None, Query()] = None,
    incident: Annotated[Incident | None, Query()] = None,
    community_id: Annotated[OpaqueId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    query = select(Alert).where(scope.alerts(caller)).order_by(Alert.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Alert.state == state)
    if incident is not None:
        query = query.where(Alert.incident == incident)
    if community_id is not None:
        query = query.where(Alert.community_id == community_id)
    return list(session.execute(query).scalars().all())


def _escalation(session: Session, alert: Alert) -> EscalationOut:
    policy = alert_policy(alert)
    timer = session.execute(
        select(EscalationTimer)
        .where(EscalationTimer.alert_id == alert.id, EscalationTimer.status == "pending")
        .order_by(EscalationTimer.due_at)
        .limit(1)
    ).scalar_one_or_none()
    targets: list[str] = []
    if timer is not None and timer.step < len(policy.steps):
        targets = list(policy.steps[timer.step].targets)
    return EscalationOut(
        policy=policy.to_json(),
        next_round=timer.round if timer else None,
        next_step=timer.step if timer else None,
        next_due_at=timer.due_at if timer else None,
        next_targets=targets,
    )


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: AlertId, session: SessionDep, caller: CallerDep) -> AlertDetail:
    """The alert with its whole history: every transition and delivery attempt (the
    timeline), the events folded into it, each delivery's state, the next step."""
    alert = _get_visible(session, caller, alert_id)
    timeline = session.execute(
        select(AlertLog).where(AlertLog.alert_id == alert_id).order_by(AlertLog.at, AlertLog.id)
    ).scalars()
    events = session.execute(
        select(EventRecord)
        .where(EventRecord.alert_id == alert_id)
        .order_by(EventRecord.received_at)
    ).scalars()
    deliveries = session.execute(
        select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.id)
    ).scalars()
    return AlertDetail(
        **AlertOut.model_validate(alert).model_dump(),
        timeline=[AlertLogOut.model_validate(entry) for entry in timeline],
        events=[EventOut.model_validate(e) for e in events],
        deliveries=[DeliveryOut.model_validate(d) for d in deliveries],
        escalation=_escalation(session, alert),
    )


@router.post("/{alert_id}/ack", response_model=AlertOut)
def acknowledge(alert_id: AlertId, session: SessionDep, caller: CallerDep) -> Alert:
    """Someone is on it: escalation stops. Acknowledging twice is harmless."""
    _get_visible(session, caller, alert_id)
    alert = service.acknowledge(session, alert_id, caller.actor, utcnow(), via="api")
    session.commit()
    return alert


@router.post("/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: AlertId, body: ResolveIn, session: SessionDep, caller: CallerDep) -> Alert:
    """Close the incident with its outcome; a later event opens a new alert."""
    _get_visible(session, caller, alert_id)
    alert = service.resolve(
        session,
        alert_id,
        actor=caller.actor,
        outcome=body.outcome,
        note=body.note,
        now=utcnow(),
    )
    session.commit()
    return alert
