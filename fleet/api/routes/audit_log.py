"""The audit log, for admins: who changed what, when."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from fleet.api.deps import AdminDep, SessionDep
from fleet.db.models import AuditEntry

router = APIRouter(prefix="/api/v1/audit", tags=["access"])


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    model_config = {"from_attributes": True}


@router.get("", response_model=list[AuditOut])
def list_audit(
    session: SessionDep,
    caller: AdminDep,
    target: Annotated[str | None, Query(max_length=120, pattern=r"^[^\x00-\x1f]*$")] = None,
    action: Annotated[str | None, Query(max_length=60, pattern=r"^[a-z._]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.execute(query).scalars())
