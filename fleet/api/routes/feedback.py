"""Outcomes that feed back: field precision per rule and per resident, the band checks
that repeated false alarms open, and the rules flagged to the admin."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api.deps import Caller, CallerDep, SessionDep, StaffDep
from fleet.api.schemas import IdPath
from fleet.auth import Role
from fleet.db.models import Alert, CareTask, Resident
from fleet.db.session import utcnow
from fleet.dispatch import band_check, feedback
from fleet.errors import NotFound
from fleet.registry import audit, scope

router = APIRouter(prefix="/api/v1", tags=["dispatch"])


class PrecisionOut(BaseModel):
    alerts: int
    real: int
    false: int
    precision: float | None


class RuleOut(PrecisionOut):
    rule: str
    flagged: bool


class ResidentPrecisionOut(PrecisionOut):
    resident_id: str


class FlagOut(BaseModel):
    rule: str
    precision: float
    real: int
    false: int
    floor: float


class FeedbackOut(BaseModel):
    days: int
    floor: float
    min_judged: int
    rules: list[RuleOut]
    residents: list[ResidentPrecisionOut]
    flags: list[FlagOut]


def _judged(
    session: Session, caller: Caller, since: datetime, until: datetime
) -> list[feedback.Judged]:
    rows = band_check.judged(session, since, until)
    if caller.role is Role.ADMIN:
        return rows
    visible = set(
        session.execute(select(Alert.resident_id).where(scope.alerts(caller)).distinct()).scalars()
    )
    return [r for r in rows if r.resident_id in visible]


@router.get("/dispatch/precision", response_model=FeedbackOut)
def get_precision(
    *, session: SessionDep, caller: StaffDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> FeedbackOut:
    """Alerts that were real / alerts judged, per rule (alert kind) and per resident,
    over the last ``days``. Rules below the floor with enough judged alerts are flagged;
    the district-wide flags are the admin's (staff see their town's figures)."""
    now = utcnow()
    items = _judged(session, caller, now - timedelta(days=days), now)
    by_rule = feedback.grouped(items, lambda j: j.kind)
    by_resident = feedback.grouped(
        [i for i in items if i.resident_id], lambda j: j.resident_id or ""
    )
    flags = feedback.flag_rules(by_rule) if caller.role is Role.ADMIN else []
    flagged = {f.rule for f in flags}
    return FeedbackOut(
        days=days,
        floor=feedback.RULE_PRECISION_FLOOR,
        min_judged=feedback.RULE_MIN_JUDGED,
        rules=[
            RuleOut(rule=rule, flagged=rule in flagged, **_fig(f))
            for rule, f in sorted(by_rule.items())
        ],
        residents=[
            ResidentPrecisionOut(resident_id=rid, **_fig(f))
            for rid, f in sorted(
                by_resident.items(), key=lambda kv: (kv[1].precision or 1.0, kv[0])
            )
        ],
        flags=[
            FlagOut(
                rule=f.rule,
                precision=f.figures.precision or 0.0,
                real=f.figures.real,
                false=f.figures.false,
                floor=f.floor,
            )
            for f in flags
        ],
    )


def _fig(f: feedback.Precision) -> dict[str, Any]:
    return {"alerts": f.alerts, "real": f.real, "false": f.false, "precision": f.precision}


class CareTaskOut(BaseModel):
    id: int
    resident_id: str
    resident_name: str
    address: str
    kind: str
    reason: dict[str, Any]
    assignee_id: str | None
    created_at: datetime
    done_at: datetime | None
    done_by: str | None


@router.get("/care-tasks", response_model=list[CareTaskOut])
def list_care_tasks(
    *,
    session: SessionDep,
    caller: CallerDep,
    open_only: Annotated[bool, Query(alias="open")] = True,
) -> list[CareTaskOut]:
    """Work outcomes asked for (band checks after repeated false alarms): staff see
    their town's, a grid worker the ones given to them (with the resident's name and
    address, which they need at the door)."""
    query = (
        select(CareTask, Resident)
        .join(Resident, Resident.id == CareTask.resident_id)
        .where(scope.care_tasks(caller))
        .order_by(CareTask.id)
    )
    if open_only:
        query = query.where(CareTask.done_at.is_(None))
    return [
        CareTaskOut(
            id=task.id,
            resident_id=task.resident_id,
            resident_name=resident.display_name,
            address=resident.address,
            kind=task.kind,
            reason=task.reason,
            assignee_id=task.assignee_id,
            created_at=task.created_at,
            done_at=task.done_at,
            done_by=task.done_by,
        )
        for task, resident in session.execute(query).all()
    ]


class DoneOut(BaseModel):
    closed: int


@router.post("/residents/{resident_id}/band-check/done", response_model=DoneOut)
def band_checked(resident_id: IdPath, session: SessionDep, caller: CallerDep) -> DoneOut:
    """The band's fit and settings were checked: the resident's open band checks close
    (staff of the resident's town, or the grid worker it was given to)."""
    resident = session.execute(
        select(Resident).where(Resident.id == resident_id, scope.residents(caller))
    ).scalar_one_or_none()
    query = select(CareTask).where(
        CareTask.resident_id == resident_id,
        CareTask.kind == band_check.CHECK_BAND,
        CareTask.done_at.is_(None),
    )
    if caller.role not in (Role.ADMIN, Role.STAFF):
        query = query.where(CareTask.assignee_id == caller.subject)
        assigned = list(session.execute(query).scalars())
        if not assigned:
            raise NotFound(f"resident {resident_id} not found")
        checks = assigned
    else:
        if resident is None:
            raise NotFound(f"resident {resident_id} not found")
        checks = list(session.execute(query).scalars())
    now = utcnow()
    for check in checks:
        check.done_at, check.done_by = now, caller.actor[:80]
    audit.record(session, caller, "care_task.band_checked", resident_id, closed=len(checks))
    session.commit()
    return DoneOut(closed=len(checks))
