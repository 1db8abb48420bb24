"""Caregivers and grid workers, and how to reach them.

Contact channels are apprise URLs that embed tokens and numbers: they are secrets,
stored for the notifier, never returned (only how many there are) and never logged.
Only staff and admins set them, and only to what the channel policy allows
(fleet/notify/channel_policy.py): a channel is a request the fleet makes from inside
its network. A phone number, if given, travels to the gateways only sealed to their keys.
"""

from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api import csv_import
from fleet.api.deps import (
    CallerDep,
    ChannelPolicyDep,
    PublisherDep,
    SessionDep,
    SessionsDep,
    StaffDep,
)
from fleet.api.schemas import IdPath, Name, OpaqueId, Phone
from fleet.auth import Caller, Role
from fleet.db.models import Caregiver, CareLink, Resident, Town
from fleet.db.session import utcnow
from fleet.errors import Conflict, Forbidden, Invalid, NotFound
from fleet.notify.channel_policy import ChannelPolicy, ChannelRefused
from fleet.notify.sender import ChannelError, validate_channel
from fleet.registry import audit, caregiver_import, config_push, scope

router = APIRouter(prefix="/api/v1/caregivers", tags=["caregivers"])

Locale = Literal["zh-CN", "en"]
Kind = Literal["family", "grid_worker"]


def _check_channels(urls: list[str]) -> list[str]:
    for i, url in enumerate(urls):
        if len(url) > 2000 or any(ord(ch) < 32 for ch in url):
            raise ValueError(f"channel {i + 1}: not a single-line URL of at most 2000 characters")
        try:
            validate_channel(url)
        except ChannelError as exc:
            raise ValueError(f"channel {i + 1}: {exc}") from None
    return urls


class CaregiverIn(BaseModel):
    id: OpaqueId
    display_name: Name
    kind: Kind = "family"
    locale: Locale = "zh-CN"
    channels: list[str] = Field(
        default_factory=list, max_length=10, description="apprise URLs; never shown again"
    )
    phone: Phone | None = Field(None, description="for the gateway's own SMS when offline")
    town_id: OpaqueId | None = Field(None, description="default: the staff member's town")

    @field_validator("channels")
    @classmethod
    def _channels(cls, urls: list[str]) -> list[str]:
        return _check_channels(urls)


class CaregiverPatch(BaseModel):
    display_name: Name | None = None
    kind: Kind | None = None
    locale: Locale | None = None
    channels: list[str] | None = Field(None, max_length=10)
    phone: Phone | None = None

    @field_validator("channels")
    @classmethod
    def _channels(cls, urls: list[str] | None) -> list[str] | None:
        return None if urls is None else _check_channels(urls)


class CaregiverOut(BaseModel):
    id: str
    display_name: str
    kind: str
    locale: str
    channel_count: int
    has_phone: bool
    town_id: str | None
    residents: list[str]


def _out(session: Session, caregiver: Caregiver, caller: Caller) -> CaregiverOut:
    residents = session.execute(
        select(CareLink.resident_id)
        .join(Resident, Resident.id == CareLink.resident_id)
        .where(CareLink.caregiver_id == caregiver.id, scope.residents(caller))
        .order_by(CareLink.resident_id)
    ).scalars()
    return CaregiverOut(
        id=caregiver.id,
        display_name=caregiver.display_name,
        kind=caregiver.kind,
        locale=caregiver.locale,
        channel_count=len([c for c in caregiver.channels.splitlines() if c.strip()]),
        has_phone=bool(caregiver.phone),
        town_id=caregiver.town_id,
        residents=list(residents),
    )


def _check_policy(policy: ChannelPolicy, urls: list[str]) -> None:
    try:
        policy.check_all(urls)
    except ChannelRefused as exc:
        raise Invalid(f"channels: {exc}") from None


def _get(session: Session, caller: Caller, caregiver_id: str) -> Caregiver:
    caregiver = session.execute(
        select(Caregiver).where(Caregiver.id == caregiver_id, scope.caregivers(caller))
    ).scalar_one_or_none()
    if caregiver is None:
        raise NotFound(f"caregiver {caregiver_id} not found")
    return caregiver


@router.post("", response_model=CaregiverOut, status_code=status.HTTP_201_CREATED)
def create_caregiver(
    body: CaregiverIn, session: SessionDep, caller: StaffDep, channel_policy: ChannelPolicyDep
) -> CaregiverOut:
    _check_policy(channel_policy, body.channels)
    if session.get(Caregiver, body.id) is not None:
        raise Conflict(f"caregiver {body.id} exists")
    town_id = body.town_id or caller.town_id
    if caller.role is Role.STAFF and town_id != caller.town_id:
        raise Forbidden("staff register caregivers in their own town only")
    if town_id is not None and session.get(Town, town_id) is None:
        raise Invalid(f"town {town_id} does not exist")
    caregiver = Caregiver(
        id=body.id,
        display_name=body.display_name,
        kind=body.kind,
        locale=body.locale,
        channels="\n".join(body.channels),
        phone=body.phone,
        town_id=town_id,
        created_at=utcnow(),
    )
    session.add(caregiver)
    audit.record(
        session, caller, "caregiver.create", body.id, kind=body.kind, channels=len(body.channels)
    )
    session.commit()
    return _out(session, caregiver, caller)


@router.post(
    "/import",
    response_model=csv_import.CsvReportOut,
    openapi_extra=csv_import.csv_body(
        "id,display_name,kind,locale,phone,channels,town_id,residents"
    ),
    responses=csv_import.RESPONSES,
    summary="Register many caregivers and grid workers from a CSV file (dry run by default)",
)
async def import_caregivers(
    *,
    request: Request,
    caller: StaffDep,
    sessions: SessionsDep,
    publisher: PublisherDep,
    channel_policy: ChannelPolicyDep,
    dry_run: bool = True,
) -> Any:
    """Check every row (channels against the channel policy, linked residents against
    the caller's town) and report every problem by row and column. With
    ``dry_run=false`` and no errors, register all rows in one transaction; with any
    error, none (HTTP 422)."""
    importer = csv_import.Importer(
        partial(caregiver_import.check, policy=channel_policy),
        caregiver_import.apply,
        "caregiver.import",
    )
    return await csv_import.run_import(
        request,
        caller=caller,
        sessions=sessions,
        importer=importer,
        dry_run=dry_run,
        poke=publisher.poke,
    )


@router.get("", response_model=list[CaregiverOut])
def list_caregivers(session: SessionDep, caller: CallerDep) -> list[CaregiverOut]:
    rows = session.execute(
        select(Caregiver).where(scope.caregivers(caller)).order_by(Caregiver.id)
    ).scalars()
    return [_out(session, c, caller) for c in rows]


@router.get("/{caregiver_id}", response_model=CaregiverOut)
def get_caregiver(caregiver_id: IdPath, session: SessionDep, caller: CallerDep) -> CaregiverOut:
    return _out(session, _get(session, caller, caregiver_id), caller)


@router.patch("/{caregiver_id}", response_model=CaregiverOut)
def update_caregiver(
    *,
    caregiver_id: IdPath,
    body: CaregiverPatch,
    session: SessionDep,
    caller: CallerDep,
    publisher: PublisherDep,
    channel_policy: ChannelPolicyDep,
) -> CaregiverOut:
    """Staff edit the caregivers registered in their town; a caregiver edits their own
    name, language and phone — not their channels, which only staff set (a channel is a
    request the fleet makes, so who may point it somewhere is restricted)."""
    caregiver = _get(session, caller, caregiver_id)
    changes = body.model_dump(exclude_unset=True)
    if caller.role is Role.CAREGIVER and "kind" in changes:
        raise Forbidden("only staff change whether someone is a grid worker")
    if caller.role is Role.CAREGIVER and "channels" in changes:
        raise Forbidden("only health-center staff set contact channels; ask them to")
    if caller.role is Role.STAFF and caregiver.town_id != caller.town_id:
        # Visible because they care for someone here, but registered by another town.
        raise Forbidden(
            f"caregiver {caregiver.id} is registered by another town; its staff edit them"
        )
    if body.channels is not None:
        _check_policy(channel_policy, body.channels)
    for name in ("display_name", "kind", "locale"):
        if changes.get(name) is not None:
            setattr(caregiver, name, changes[name])
    if body.channels is not None:
        caregiver.channels = "\n".join(body.channels)
    bumped: set[str] = set()
    if "phone" in changes:
        caregiver.phone = body.phone
        # The number is in the sealed contacts of every gateway covering their residents.
        communities = session.execute(
            select(Resident.community_id)
            .join(CareLink, CareLink.resident_id == Resident.id)
            .where(CareLink.caregiver_id == caregiver.id)
        ).scalars()
        bumped = config_push.bump_communities(session, list(communities))
    audit.record(session, caller, "caregiver.update", caregiver.id, fields=sorted(changes))
    session.commit()
    if bumped:
        publisher.poke()
    return _out(session, caregiver, caller)
