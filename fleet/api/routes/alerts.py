"""Alerts: list, inspect (timeline, events, deliveries, escalation), acknowledge, resolve.

Admins see every alert, staff their town's, caregivers their residents'.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from fleet.alerts import service
from fleet.alerts.escalation import alert_policy
from fleet.alerts.lifecycle import AlertState
from fleet.api.deps import Caller, CallerDep, SessionDep
from fleet.api.paging import ListQueryDep, contains, csv_response, page_rows
from fleet.api.schemas import OpaqueId
from fleet.db.models import (
    Alert,
    AlertLog,
    Delivery,
    EscalationTimer,
    EventRecord,
    Resident,
)
from fleet.db.session import utcnow
from fleet.errors import Invalid, NotFound
from fleet.registry import audit, people, scope

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

Incident = Literal["emergency", "inactivity", "medication", "water", "device"]
Severity = Literal["critical", "high", "medium", "low"]
# Most severe first when sorted ascending.
_SEVERITY_RANK = case(
    {"critical": 0, "high": 1, "medium": 2, "low": 3}, value=Alert.severity, else_=4
)
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
    resident_name: str | None = None
    community_name: str | None = None
    acknowledged_by_name: str | None = Field(None, description="the person, when one did")
    resolved_by_name: str | None = None

    model_config = {"from_attributes": True}


class AlertLogOut(BaseModel):
    at: datetime
    actor: str
    actor_name: str | None = Field(None, description="the person behind the actor, if one")
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
    contact_name: str | None = None

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


ALERT_SORTS = {
    "id": (Alert.id,),
    "opened": (Alert.opened_at, Alert.id),
    "severity": (_SEVERITY_RANK, Alert.id),
    "state": (Alert.state, Alert.id),
    "kind": (Alert.kind, Alert.id),
    "resident": (Resident.display_name, Alert.id),
    "community": (Alert.community_id, Alert.id),
}
ALERT_CSV = (
    "id",
    "opened_at",
    "severity",
    "kind",
    "resident_id",
    "resident",
    "community",
    "state",
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
    "resolved_by",
    "outcome",
)


def named(session: Session, alerts: Sequence[Alert]) -> list[AlertOut]:
    """Alerts with the people and places in them named (resident, community, who
    acknowledged and who resolved), looked up once for the whole page."""
    residents = people.resident_names(session, (a.resident_id for a in alerts))
    communities = people.community_names(session, (a.community_id for a in alerts))
    actors = people.names(session, [x for a in alerts for x in (a.acknowledged_by, a.resolved_by)])
    return [
        AlertOut.model_validate(a).model_copy(
            update={
                "resident_name": residents.get(a.resident_id or ""),
                "community_name": communities.get(a.community_id or ""),
                "acknowledged_by_name": actors.get(a.acknowledged_by or ""),
                "resolved_by_name": actors.get(a.resolved_by or ""),
            }
        )
        for a in alerts
    ]


@router.get("", response_model=list[AlertOut])
def list_alerts(
    *,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    params: ListQueryDep,
    state: Annotated[list[AlertState] | None, Query(description="one or more states")] = None,
    incident: Annotated[Incident | None, Query()] = None,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,30}$")] = None,
    severity: Annotated[Severity | None, Query()] = None,
    community_id: Annotated[OpaqueId | None, Query()] = None,
    grid_id: Annotated[OpaqueId | None, Query()] = None,
    resident_id: Annotated[OpaqueId | None, Query()] = None,
) -> list[AlertOut] | Response:
    """Alerts the caller may see, newest first by default, paged (``X-Total-Count``);
    ``q`` searches the resident's name and id; ``format=csv`` exports the list."""
    query = (
        select(Alert)
        .outerjoin(Resident, Resident.id == Alert.resident_id)
        .where(scope.alerts(caller))
    )
    if state:
        query = query.where(Alert.state.in_([s.value for s in state]))
    if incident is not None:
        query = query.where(Alert.incident == incident)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    if community_id is not None:
        query = query.where(Alert.community_id == community_id)
    if grid_id is not None:
        query = query.where(Resident.grid_id == grid_id)
    if resident_id is not None:
        query = query.where(Alert.resident_id == resident_id)
    if (like := params.like()) is not None:
        query = query.where(
            or_(contains(Resident.display_name, like), contains(Alert.resident_id, like))
        )
    if params.limit is not None and params.limit > 1000 and not params.csv:
        raise Invalid("limit: at most 1000 alerts a page")
    rows = page_rows(
        session,
        query,
        params,
        response,
        sorts=ALERT_SORTS,
        default_sort="-id",
        default_limit=100,
    )
    out = named(session, rows)
    if not params.csv:
        return out
    audit.record(session, caller, "alerts.export", "alerts", rows=len(out))
    session.commit()
    return csv_response(
        "alerts.csv",
        ALERT_CSV,
        (
            (
                a.id,
                a.opened_at.isoformat(),
                a.severity,
                a.kind,
                a.resident_id,
                a.resident_name,
                a.community_name or a.community_id,
                a.state,
                a.acknowledged_at.isoformat() if a.acknowledged_at else "",
                a.acknowledged_by_name or a.acknowledged_by,
                a.resolved_at.isoformat() if a.resolved_at else "",
                a.resolved_by_name or a.resolved_by,
                a.outcome,
            )
            for a in out
        ),
    )


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
    entries = list(timeline)
    sent = list(deliveries)
    actors = people.names(
        session,
        [e.actor for e in entries]
        + [f"contact:{d.caregiver_id}" for d in sent]
        + [
            f"contact:{c.get('contact')}"
            for e in entries
            for c in (e.detail or {}).get("contacts", [])
            if isinstance(c, dict)
        ],
    )
    return AlertDetail(
        **named(session, [alert])[0].model_dump(),
        timeline=[
            AlertLogOut.model_validate(entry).model_copy(
                update={"actor_name": actors.get(entry.actor)}
            )
            for entry in entries
        ],
        events=[EventOut.model_validate(e) for e in events],
        deliveries=[
            DeliveryOut.model_validate(d).model_copy(
                update={"contact_name": actors.get(f"contact:{d.caregiver_id}")}
            )
            for d in sent
        ],
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
