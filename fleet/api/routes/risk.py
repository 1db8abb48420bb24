"""Risk tags (风险标签): the table, a resident's tags with their evidence, reports from
outside (JSON rows or a CSV file, all or nothing), and the day's evaluation.

Staff see and report for their town's residents, admins for all; caregivers see their
own residents' tags. Evaluating is an admin's (the fleet runs it every day by itself).
"""

import asyncio
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from fleet import clock
from fleet.api.deps import AdminDep, CallerDep, SessionDep, SessionsDep, StaffDep
from fleet.api.schemas import FIRST_DAY, LAST_DAY, IdPath, OpaqueId
from fleet.auth import Caller, Role
from fleet.db.models import (
    Caregiver,
    Community,
    Grid,
    Resident,
    RiskReport,
    RiskTagRow,
    RiskVisit,
)
from fleet.db.session import utcnow
from fleet.errors import NotFound, TooLarge
from fleet.registry import audit, scope
from fleet.risk import board, daily, reports
from fleet.risk import tags as risk_tags

router = APIRouter(prefix="/api/v1/risk", tags=["risk"])

Source = Annotated[
    str, StringConstraints(min_length=1, max_length=60, pattern=r"^[\w\u4e00-\u9fff .-]+$")
]


class TagOut(BaseModel):
    id: str
    source: str
    fact: str
    op: str
    threshold: float | bool
    weight: int
    name_zh: str
    name_en: str
    evidence_zh: str
    evidence_en: str


class HeldTag(BaseModel):
    tag: str
    name_zh: str
    name_en: str
    since: date
    value: float | None
    evidence_zh: str
    evidence_en: str
    weight: int


class ResidentRisk(BaseModel):
    resident_id: str
    evaluated_on: date | None
    weight: int = Field(description="sum of the tags' weights: the board's order, never alone")
    tags: list[HeldTag]


class ReportIn(BaseModel):
    resident_id: Annotated[str, StringConstraints(max_length=40)]
    reported_at: Annotated[str, StringConstraints(max_length=40)]
    concern: Annotated[str, StringConstraints(max_length=2000)]


class ReportsIn(BaseModel):
    source: Source
    rows: list[ReportIn] = Field(min_length=1, max_length=reports.MAX_ROWS)


class RowErrorOut(BaseModel):
    row: int
    message: str


class ImportOut(BaseModel):
    source: str
    rows: int
    imported: int
    errors: list[RowErrorOut]


class EvaluateIn(BaseModel):
    # Bounded: the evaluation looks back weeks from the day (date.min would overflow).
    day: date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="local day (default: today)"
    )


class EvaluateOut(BaseModel):
    day: date
    residents: int
    tags: int
    started: int
    ended: int


def _table() -> dict[str, risk_tags.Tag]:
    return {t.id: t for t in risk_tags.load()}


@router.get("/tags", response_model=list[TagOut])
def list_tags(caller: CallerDep) -> list[TagOut]:
    """The table of tags (fleet/risk/tags.toml): what each reads and its threshold."""
    return [_tag_out(t) for t in _table().values()]


def _tag_out(tag: risk_tags.Tag) -> TagOut:
    return TagOut(
        id=tag.id,
        source=tag.source,
        fact=tag.fact,
        op=tag.op,
        threshold=tag.threshold,
        weight=tag.weight,
        name_zh=tag.name_zh,
        name_en=tag.name_en,
        evidence_zh=tag.evidence_zh,
        evidence_en=tag.evidence_en,
    )


def held(
    session: Session, resident_ids: list[str], on: date | None = None
) -> dict[str, list[HeldTag]]:
    """The tags holding on a day (default: now) per resident, heaviest first."""
    table = _table()
    query = select(RiskTagRow).where(RiskTagRow.resident_id.in_(resident_ids))
    if on is None:
        query = query.where(RiskTagRow.until.is_(None))
    else:
        day = on.isoformat()
        query = query.where(
            RiskTagRow.since <= day, (RiskTagRow.until.is_(None)) | (RiskTagRow.until > day)
        )
    out: dict[str, list[HeldTag]] = {r: [] for r in resident_ids}
    for row in session.execute(query).scalars():
        tag = table.get(row.tag)
        if tag is None:  # a tag taken out of the table since: no longer shown
            continue
        out[row.resident_id].append(
            HeldTag(
                tag=row.tag,
                name_zh=tag.name_zh,
                name_en=tag.name_en,
                since=date.fromisoformat(row.since),
                value=row.value,
                evidence_zh=str(row.evidence.get("zh-CN", "")),
                evidence_en=str(row.evidence.get("en", "")),
                weight=tag.weight,
            )
        )
    for tags in out.values():
        tags.sort(key=lambda t: (-t.weight, t.tag))
    return out


@router.get("/residents/{resident_id}", response_model=ResidentRisk)
def resident_risk(resident_id: IdPath, session: SessionDep, caller: CallerDep) -> ResidentRisk:
    visible = session.execute(
        select(Resident.id).where(Resident.id == resident_id, scope.residents(caller))
    ).scalar_one_or_none()
    if visible is None:
        raise NotFound(f"resident {resident_id} not found")
    tags = held(session, [resident_id])[resident_id]
    last = session.execute(
        select(RiskTagRow.evaluated_on)
        .where(RiskTagRow.resident_id == resident_id)
        .order_by(RiskTagRow.evaluated_on.desc())
        .limit(1)
    ).scalar_one_or_none()
    return ResidentRisk(
        resident_id=resident_id,
        evaluated_on=date.fromisoformat(last) if last else None,
        weight=sum(t.weight for t in tags),
        tags=tags,
    )


def _answer(result: reports.ImportResult) -> Any:
    out = ImportOut(
        source=result.source,
        rows=result.rows,
        imported=result.imported,
        errors=[RowErrorOut(row=e.row, message=e.message) for e in result.errors],
    )
    if result.errors:
        return JSONResponse(out.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return out


def _import(
    session: Session, caller: Caller, source: str, rows: list[reports.ReportRow], dry_run: bool
) -> reports.ImportResult:
    result = reports.import_reports(session, caller, source, rows, utcnow(), dry_run=dry_run)
    if result.imported:
        audit.record(session, caller, "risk.reports", source, rows=result.imported)
        session.commit()
    return result


@router.post(
    "/reports",
    response_model=ImportOut,
    responses={422: {"model": ImportOut, "description": "errors by row; nothing imported"}},
)
def post_reports(body: ReportsIn, session: SessionDep, caller: StaffDep) -> Any:
    """Reports from outside, all or nothing: any row naming an unknown resident (or a
    bad time, or no concern) is reported by number and nothing is imported."""
    rows = [reports.ReportRow(r.resident_id, r.reported_at, r.concern) for r in body.rows]
    return _answer(_import(session, caller, body.source, rows, False))


_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the CSV file itself (header: resident_id,reported_at,concern)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def _import_csv(
    sessions: "sessionmaker[Session]", caller: Caller, source: str, data: bytes, dry_run: bool
) -> reports.ImportResult:
    rows = reports.parse_csv(data)
    with sessions() as session:
        return _import(session, caller, source, rows, dry_run)


@router.post(
    "/reports/import",
    response_model=ImportOut,
    openapi_extra=_CSV_BODY,
    responses={422: {"model": ImportOut, "description": "errors by row; nothing imported"}},
)
async def import_reports_csv(
    *,
    request: Request,
    caller: StaffDep,
    sessions: SessionsDep,
    source: Annotated[Source, Query(description="who reported: hotline, grid worker round …")],
    dry_run: bool = False,
) -> Any:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > reports.MAX_BYTES:
            raise TooLarge(f"the file is larger than {reports.MAX_BYTES // (1024 * 1024)} MB")
    result = await asyncio.to_thread(_import_csv, sessions, caller, source, bytes(data), dry_run)
    return _answer(result)


@router.post("/evaluate", response_model=EvaluateOut)
def evaluate(body: EvaluateIn, session: SessionDep, caller: AdminDep) -> EvaluateOut:
    """Compute the day's tags now (the fleet also does it by itself every day)."""
    day = body.day or utcnow().astimezone(clock.zone()).date()
    result = daily.evaluate_day(session, day)
    audit.record(session, caller, "risk.evaluate", day.isoformat(), tags=result.tags)
    session.commit()
    return EvaluateOut(
        day=result.day,
        residents=result.residents,
        tags=result.tags,
        started=result.started,
        ended=result.ended,
    )


# -- the board -----------------------------------------------------------------------


class BoardEntryOut(BaseModel):
    resident_id: str
    resident_name: str
    weight: int
    tags: list[HeldTag]
    new: list[str] = Field(description="tags that began in the last 7 days")
    gone: list[str] = Field(description="tags that held a week ago and hold no more")
    worker_id: str | None
    worker_name: str | None
    visited_on: date | None
    needs_visit: bool


class VisitItem(BaseModel):
    resident_id: str
    resident_name: str
    address: str
    why_zh: list[str]
    why_en: list[str]


class VisitListOut(BaseModel):
    worker_id: str | None = Field(description="None: no grid worker; the health center assigns")
    worker_name: str | None
    residents: list[VisitItem]


class BoardOut(BaseModel):
    community_id: str
    day: date
    entries: list[BoardEntryOut]
    visits: list[VisitListOut]


def _community(session: Session, caller: Caller, community_id: str) -> Community:
    community = session.execute(
        select(Community).where(Community.id == community_id, scope.communities(caller))
    ).scalar_one_or_none()
    if community is None:
        raise NotFound(f"community {community_id} not found")
    return community


@router.get("/board", response_model=BoardOut)
def get_board(
    *, session: SessionDep, caller: StaffDep, community_id: Annotated[OpaqueId, Query()]
) -> BoardOut:
    """A community's residents ranked by their tags, what changed since last week, and
    each grid worker's visit list for the week (who to see and why)."""
    community = _community(session, caller, community_id)
    day = utcnow().astimezone(clock.zone()).date()
    people = list(
        session.execute(select(Resident).where(Resident.community_id == community.id)).scalars()
    )
    worker_of = {
        grid.id: grid.worker_id
        for grid in session.execute(select(Grid).where(Grid.community_id == community.id)).scalars()
    }
    residents = {r.id: worker_of.get(r.grid_id or "") for r in people}
    table = _table()
    spans = [
        board.Span(
            row.resident_id,
            row.tag,
            date.fromisoformat(row.since),
            date.fromisoformat(row.until) if row.until else None,
            table[row.tag].weight,
        )
        for row in session.execute(
            select(RiskTagRow).where(RiskTagRow.resident_id.in_(list(residents)))
        ).scalars()
        if row.tag in table
    ]
    last_visits: dict[str, date] = {}
    for resident_id, at in session.execute(
        select(RiskVisit.resident_id, func.max(RiskVisit.visited_at))
        .where(RiskVisit.resident_id.in_(list(residents)))
        .group_by(RiskVisit.resident_id)
    ).all():
        last_visits[resident_id] = at.astimezone(clock.zone()).date()
    built = board.build(spans, residents, last_visits, day)
    held_now = held(session, list(residents))
    by_id = {r.id: r for r in people}
    names = _contact_names(session, {w for w in residents.values() if w})
    entries = [
        BoardEntryOut(
            resident_id=e.resident_id,
            resident_name=by_id[e.resident_id].display_name,
            weight=e.weight,
            tags=held_now.get(e.resident_id, []),
            new=list(e.new),
            gone=list(e.gone),
            worker_id=e.worker_id,
            worker_name=names.get(e.worker_id or ""),
            visited_on=e.visited_on,
            needs_visit=e.needs_visit,
        )
        for e in built.entries
    ]
    visits = [
        VisitListOut(
            worker_id=worker,
            worker_name=names.get(worker or ""),
            residents=[
                VisitItem(
                    resident_id=rid,
                    resident_name=by_id[rid].display_name,
                    address=by_id[rid].address,
                    why_zh=[f"{t.name_zh}：{t.evidence_zh}" for t in held_now.get(rid, [])],
                    why_en=[f"{t.name_en}: {t.evidence_en}" for t in held_now.get(rid, [])],
                )
                for rid in ids
            ],
        )
        for worker, ids in sorted(built.visits.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]
    return BoardOut(community_id=community.id, day=day, entries=entries, visits=visits)


def _contact_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Caregiver.id, Caregiver.display_name).where(Caregiver.id.in_(ids))
    ).all()
    return dict(rows)


class VisitIn(BaseModel):
    resident_id: OpaqueId
    found: Literal["well", "concern", "not_at_home"]
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class VisitOut(BaseModel):
    id: int
    resident_id: str
    visitor_id: str | None
    visited_at: datetime
    found: str
    note: str


@router.post("/visits", response_model=VisitOut, status_code=status.HTTP_201_CREATED)
def record_visit(body: VisitIn, session: SessionDep, caller: CallerDep) -> VisitOut:
    """A visit made from the board: by staff of the resident's town, or by the
    resident's grid worker. It takes the resident off this week's list; a concern found
    becomes a report (source "visit") that the next evaluation turns into a tag."""
    resident = session.get(Resident, body.resident_id)
    allowed = False
    if resident is not None:
        if caller.role in (Role.ADMIN, Role.STAFF):
            allowed = (
                session.execute(
                    select(Resident.id).where(Resident.id == resident.id, scope.residents(caller))
                ).scalar_one_or_none()
                is not None
            )
        elif resident.grid_id:
            grid = session.get(Grid, resident.grid_id)
            allowed = grid is not None and grid.worker_id == caller.subject
    if resident is None or not allowed:
        raise NotFound(f"resident {body.resident_id} not found")
    now = utcnow()
    visitor = caller.subject if session.get(Caregiver, caller.subject) is not None else None
    visit = RiskVisit(
        resident_id=resident.id,
        visitor_id=visitor,
        visited_at=now,
        found=body.found,
        note=body.note,
        recorded_by=caller.actor[:80],
    )
    session.add(visit)
    if body.found == "concern":
        session.add(
            RiskReport(
                resident_id=resident.id,
                source="visit",
                reported_at=now,
                concern=body.note or "concern found on a visit",
                imported_at=now,
                imported_by=caller.actor[:80],
            )
        )
    audit.record(session, caller, "risk.visit", resident.id, found=body.found)
    session.commit()
    return VisitOut(
        id=visit.id,
        resident_id=visit.resident_id,
        visitor_id=visit.visitor_id,
        visited_at=visit.visited_at,
        found=visit.found,
        note=visit.note,
    )
