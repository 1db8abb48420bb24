"""What the fleet refused from gateways: dead letters, and "gateway misbehaving" notices.

Staff see those of the gateways they see (a gateway covering a community of their
town); admins see all, including messages from gateways the registry does not know.
A payload is shown as text, cut to a preview: it holds opaque ids only (the contract
keeps names and numbers off the broker), but it may be large.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute

from fleet.api.deps import SessionDep, StaffDep
from fleet.auth import Caller, Role
from fleet.db.models import DeadLetter, Gateway, GatewayNotice
from fleet.registry import scope

router = APIRouter(prefix="/api/v1", tags=["gateways"])

_PREVIEW_BYTES = 2000
CauseName = Annotated[str, Query(pattern=r"^[a-z_]{1,40}$")]


class DeadLetterOut(BaseModel):
    id: int
    gateway: str | None
    topic: str
    cause: str | None
    error: str = Field(description="why it was refused, in words")
    received_at: datetime
    last_received_at: datetime | None
    times: int = Field(description="how often this very message arrived")
    size: int
    preview: str = Field(description="the start of the payload, as text")


class NoticeOut(BaseModel):
    id: int
    gateway_id: str
    cause: str
    hour: datetime
    first_at: datetime
    last_at: datetime
    refusals: int
    message: str
    model_config = {"from_attributes": True}


def _visible(caller: Caller, column: InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
    if caller.role is Role.ADMIN:
        return true()
    return column.in_(select(Gateway.id).where(scope.gateways(caller)))


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def list_dead_letters(
    session: SessionDep,
    caller: StaffDep,
    gateway: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")] = None,
    cause: CauseName | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterOut]:
    """Refused messages, newest first."""
    query = (
        select(DeadLetter)
        .where(_visible(caller, DeadLetter.gateway))
        .order_by(DeadLetter.id.desc())
        .limit(limit)
    )
    if gateway is not None:
        query = query.where(DeadLetter.gateway == gateway)
    if cause is not None:
        query = query.where(DeadLetter.cause == cause)
    return [
        DeadLetterOut(
            id=row.id,
            gateway=row.gateway,
            topic=row.topic,
            cause=row.cause,
            error=row.error,
            received_at=row.received_at,
            last_received_at=row.last_received_at,
            times=row.times,
            size=len(row.payload),
            preview=row.payload[:_PREVIEW_BYTES].decode("utf-8", errors="replace"),
        )
        for row in session.execute(query).scalars()
    ]


@router.get("/gateway-notices", response_model=list[NoticeOut])
def list_gateway_notices(
    session: SessionDep,
    caller: StaffDep,
    gateway: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[GatewayNotice]:
    """ "Gateway misbehaving": one per gateway, cause and hour, newest first, each
    saying in words what the gateway sent and what to do."""
    query = (
        select(GatewayNotice)
        .where(_visible(caller, GatewayNotice.gateway_id))
        .order_by(GatewayNotice.last_at.desc(), GatewayNotice.id.desc())
        .limit(limit)
    )
    if gateway is not None:
        query = query.where(GatewayNotice.gateway_id == gateway)
    return list(session.execute(query).scalars())
