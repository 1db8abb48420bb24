"""Risk tags (风险标签): the table, a resident's tags with their evidence, reports from
outside (JSON rows or a CSV file, all or nothing), and the day's evaluation.

Staff see and report for their town's residents, admins for all; caregivers see their
own residents' tags. Evaluating is an admin's (the fleet runs it every day by itself).
"""

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleet import clock
from fleet.api.deps import AdminDep, CallerDep, SessionDep, SessionsDep, StaffDep
from fleet.api.schemas import IdPath
from fleet.auth import Caller
from fleet.db.models import Resident, RiskTagRow
from fleet.db.session import utcnow
from fleet.errors import NotFound, TooLarge
from fleet.registry import audit, scope
from fleet.risk import daily, reports
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
    day: date | None = Field(None, description="local day (default: today)")


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
