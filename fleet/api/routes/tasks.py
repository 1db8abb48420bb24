"""Dispatch tasks: the list (staff: their town's; a caregiver or grid worker: the ones
they hold), one task, "my open tasks" for the phone page, and staff's assign/reassign.

The owner's own moves (on the way, check-in, outcome, "I can't go") go through the
signed task links (fleet.api.routes.task_page); ``/mine`` hands the owner fresh ones.
"""

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api.deps import CallerDep, SessionDep, SettingsDep, StaffDep, TaskLinksDep
from fleet.api.schemas import OpaqueId, SerialPath
from fleet.db.models import (
    Alert,
    Caregiver,
    CareLink,
    Community,
    DispatchTask,
    Gateway,
    GatewayCommunity,
    Resident,
)
from fleet.db.session import utcnow
from fleet.dispatch import actions
from fleet.dispatch.task_link import TaskAction
from fleet.dispatch.tasks import OPEN_STATES, TaskState
from fleet.errors import NotFound
from fleet.registry import audit, scope

router = APIRouter(prefix="/api/v1", tags=["dispatch"])


class TaskOut(BaseModel):
    id: int
    alert_id: int
    resident_id: str | None
    community_id: str | None
    kind: str
    state: str
    owner_id: str | None
    owner_name: str | None
    declined: list[str]
    created_at: datetime
    accepted_at: datetime | None
    on_the_way_at: datetime | None
    on_site_at: datetime | None
    on_site_latitude: float | None
    on_site_longitude: float | None
    outcome_at: datetime | None
    found: str | None
    done: list[str] | None
    outcome_note: str | None
    closed_at: datetime | None
    close_reason: str | None


class Call(BaseModel):
    who: str
    role: str  # resident | key_holder | family | duty_line
    phone: str


class Links(BaseModel):
    check_in: str
    outcome: str
    decline: str


class MyTask(TaskOut):
    resident_name: str
    address: str
    community_name: str
    flat: str | None
    key_holder: str
    care_notes: str
    opened_at: datetime
    distance_km: float | None
    calls: list[Call]
    links: Links


class AssignIn(BaseModel):
    contact_id: OpaqueId


def _out(session: Session, task: DispatchTask) -> TaskOut:
    owner = session.get(Caregiver, task.owner_id) if task.owner_id else None
    return TaskOut(
        id=task.id,
        alert_id=task.alert_id,
        resident_id=task.resident_id,
        community_id=task.community_id,
        kind=task.kind,
        state=task.state,
        owner_id=task.owner_id,
        owner_name=owner.display_name if owner else None,
        declined=list(task.declined or []),
        created_at=task.created_at,
        accepted_at=task.accepted_at,
        on_the_way_at=task.on_the_way_at,
        on_site_at=task.on_site_at,
        on_site_latitude=task.on_site_latitude,
        on_site_longitude=task.on_site_longitude,
        outcome_at=task.outcome_at,
        found=task.found,
        done=task.done,
        outcome_note=task.outcome_note,
        closed_at=task.closed_at,
        close_reason=task.close_reason,
    )


@router.get("/tasks", response_model=list[TaskOut])
def list_tasks(
    *,
    session: SessionDep,
    caller: CallerDep,
    open_only: Annotated[bool, Query(alias="open")] = False,
    community_id: Annotated[OpaqueId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskOut]:
    query = (
        select(DispatchTask)
        .where(scope.tasks(caller))
        .order_by(DispatchTask.id.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(DispatchTask.state.in_([s.value for s in OPEN_STATES]))
    if community_id is not None:
        query = query.where(DispatchTask.community_id == community_id)
    return [_out(session, t) for t in session.execute(query).scalars()]


def _distance_km(
    session: Session, community_id: str | None, lat: float | None, lon: float | None
) -> float | None:
    """From the caller to the resident's community, by the position of a gateway that
    covers it (the registry keeps no position per flat): enough to put tasks in order."""
    if lat is None or lon is None or community_id is None:
        return None
    where = session.execute(
        select(Gateway.latitude, Gateway.longitude)
        .join(GatewayCommunity, GatewayCommunity.gateway_id == Gateway.id)
        .where(
            GatewayCommunity.community_id == community_id,
            Gateway.latitude.is_not(None),
            Gateway.longitude.is_not(None),
        )
        .order_by(Gateway.id)
        .limit(1)
    ).first()
    if where is None or where[0] is None or where[1] is None:
        return None
    glat, glon = where[0], where[1]
    # Haversine: a district is small, but the formula costs nothing more.
    p1, p2 = math.radians(lat), math.radians(glat)
    dp, dl = p2 - p1, math.radians(glon - lon)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(6371.0 * 2 * math.asin(math.sqrt(a)), 2)


def _calls(session: Session, resident: Resident | None, community: Community | None) -> list[Call]:
    calls: list[Call] = []
    if resident is not None:
        if resident.phone:
            calls.append(Call(who=resident.display_name, role="resident", phone=resident.phone))
        if resident.key_holder_phone:
            calls.append(
                Call(
                    who=resident.key_holder or "",
                    role="key_holder",
                    phone=resident.key_holder_phone,
                )
            )
        family = session.execute(
            select(Caregiver)
            .join(CareLink, CareLink.caregiver_id == Caregiver.id)
            .where(CareLink.resident_id == resident.id, Caregiver.phone.is_not(None))
            .order_by(CareLink.priority, Caregiver.id)
        ).scalars()
        calls += [Call(who=c.display_name, role="family", phone=c.phone or "") for c in family]
    if community is not None and community.duty_contact_id:
        duty = session.get(Caregiver, community.duty_contact_id)
        if duty is not None and duty.phone:
            calls.append(Call(who=duty.display_name, role="duty_line", phone=duty.phone))
    return calls


@router.get("/tasks/mine", response_model=list[MyTask])
def my_tasks(
    *,
    session: SessionDep,
    caller: CallerDep,
    links: TaskLinksDep,
    settings: SettingsDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> list[MyTask]:
    """The open tasks the caller holds, nearest first when the phone gives its position
    (else oldest first), with what the person at the door needs: address, flat, key
    holder, care notes, numbers to call, and their check-in, outcome and decline links."""
    now = utcnow()
    rows = session.execute(
        select(DispatchTask)
        .where(
            DispatchTask.owner_id == caller.subject,
            DispatchTask.state.in_(
                [TaskState.ACCEPTED.value, TaskState.ON_THE_WAY.value, TaskState.ON_SITE.value]
            ),
        )
        .order_by(DispatchTask.created_at)
    ).scalars()
    base = settings.resolved_public_url
    mine: list[MyTask] = []
    for task in rows:
        resident = session.get(Resident, task.resident_id) if task.resident_id else None
        community = session.get(Community, task.community_id) if task.community_id else None
        alert = session.get_one(Alert, task.alert_id)

        def url(action: TaskAction, task_id: int = task.id) -> str:
            return f"{base}/task/{links.token(task_id, caller.subject, action, now)}"

        mine.append(
            MyTask(
                **_out(session, task).model_dump(),
                resident_name=resident.display_name if resident else alert.device,
                address=resident.address if resident else "",
                community_name=community.name if community else "",
                flat=resident.flat if resident else None,
                key_holder=(resident.key_holder or "") if resident else "",
                care_notes=resident.health_notes if resident else "",
                opened_at=alert.opened_at,
                distance_km=_distance_km(session, task.community_id, lat, lon),
                calls=_calls(session, resident, community),
                links=Links(
                    check_in=url(TaskAction.CHECK_IN),
                    outcome=url(TaskAction.OUTCOME),
                    decline=url(TaskAction.DECLINE),
                ),
            )
        )
    mine.sort(key=lambda t: (t.distance_km is None, t.distance_km or 0.0, t.created_at))
    return mine


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task_id: SerialPath, session: SessionDep, caller: CallerDep) -> TaskOut:
    task = session.execute(
        select(DispatchTask).where(DispatchTask.id == task_id, scope.tasks(caller))
    ).scalar_one_or_none()
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return _out(session, task)


@router.post("/alerts/{alert_id}/task/assign", response_model=TaskOut)
def assign(alert_id: SerialPath, body: AssignIn, session: SessionDep, caller: StaffDep) -> TaskOut:
    """Send someone: the alert's task goes to this contact (staff: one registered by
    their own town), who is told with their links; a previous holder is told it moved.
    Assigning acknowledges the alert."""
    alert = session.execute(
        select(Alert).where(Alert.id == alert_id, scope.alerts(caller))
    ).scalar_one_or_none()
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    contact = session.execute(
        select(Caregiver).where(Caregiver.id == body.contact_id, scope.caregivers(caller))
    ).scalar_one_or_none()
    if contact is None:
        raise NotFound(f"contact {body.contact_id} not found")
    if not scope.may_link_contact(caller, contact):
        raise NotFound(f"contact {body.contact_id} is not registered by your town")
    task = actions.assign(session, alert_id, contact.id, caller.actor, utcnow())
    audit.record(session, caller, "task.assign", str(task.id), alert_id=alert_id, to=contact.id)
    session.commit()
    return _out(session, task)
