"""The registry's people and devices: residents, caregivers, wristbands."""

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, StringConstraints, field_validator
from sqlalchemy import select

from fleet.api.deps import SessionDep, StaffDep
from fleet.db.models import AuditEntry, Caregiver, CareLink, Resident, Wristband
from fleet.db.session import utcnow
from fleet.notify.sender import ChannelError, validate_channel

router = APIRouter(prefix="/api/v1", tags=["registry"])

OpaqueId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
_MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")


class ResidentIn(BaseModel):
    id: OpaqueId
    display_name: str = Field(min_length=1, max_length=120)
    address: str = Field("", max_length=300)
    community: str = Field("", max_length=80)
    caregivers: list[OpaqueId] = []


class ResidentOut(BaseModel):
    id: str
    display_name: str
    address: str
    community: str
    created_at: datetime
    model_config = {"from_attributes": True}


class CaregiverIn(BaseModel):
    id: OpaqueId
    display_name: str = Field(min_length=1, max_length=120)
    locale: str = Field("zh-CN", pattern=r"^(zh-CN|en)$")
    channels: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("channels")
    @classmethod
    def _channels(cls, urls: list[str]) -> list[str]:
        for i, url in enumerate(urls):
            try:
                validate_channel(url)
            except ChannelError as exc:
                raise ValueError(f"channel {i + 1}: {exc}") from None
        return urls


class CaregiverOut(BaseModel):
    id: str
    display_name: str
    locale: str
    channel_count: int


class WristbandIn(BaseModel):
    mac: str
    bind_key: str = Field(description="32 hexadecimal characters; never shown again")
    resident_id: OpaqueId | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str) -> str:
        mac = value.strip().upper().replace("-", ":")
        if not _MAC.match(mac):
            raise ValueError("not a MAC address like AA:BB:CC:DD:EE:FF")
        return mac

    @field_validator("bind_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F]{32}", value):
            raise ValueError("a bind key is 32 hexadecimal characters")
        return value.lower()


class WristbandOut(BaseModel):
    mac: str
    resident_id: str | None
    state: str
    created_at: datetime
    model_config = {"from_attributes": True}


def _audit(session: SessionDep, actor: str, action: str, target: str) -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action, target=target, detail={}))


@router.post("/caregivers", response_model=CaregiverOut, status_code=status.HTTP_201_CREATED)
def create_caregiver(body: CaregiverIn, session: SessionDep, caller: StaffDep) -> CaregiverOut:
    if session.get(Caregiver, body.id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"caregiver {body.id} exists")
    session.add(
        Caregiver(
            id=body.id,
            display_name=body.display_name,
            locale=body.locale,
            channels="\n".join(body.channels),
            created_at=utcnow(),
        )
    )
    _audit(session, caller.subject, "caregiver.create", body.id)
    session.commit()
    return CaregiverOut(
        id=body.id,
        display_name=body.display_name,
        locale=body.locale,
        channel_count=len(body.channels),
    )


@router.post("/residents", response_model=ResidentOut, status_code=status.HTTP_201_CREATED)
def create_resident(body: ResidentIn, session: SessionDep, caller: StaffDep) -> Resident:
    if session.get(Resident, body.id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"resident {body.id} exists")
    for caregiver_id in body.caregivers:
        if session.get(Caregiver, caregiver_id) is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"caregiver {caregiver_id} does not exist"
            )
    resident = Resident(
        id=body.id,
        display_name=body.display_name,
        address=body.address,
        community=body.community,
        created_at=utcnow(),
    )
    session.add(resident)
    session.flush()
    for priority, caregiver_id in enumerate(dict.fromkeys(body.caregivers), start=1):
        session.add(CareLink(resident_id=body.id, caregiver_id=caregiver_id, priority=priority))
    _audit(session, caller.subject, "resident.create", body.id)
    session.commit()
    return resident


@router.get("/residents", response_model=list[ResidentOut])
def list_residents(session: SessionDep, caller: StaffDep) -> list[Resident]:
    return list(session.execute(select(Resident).order_by(Resident.id)).scalars().all())


@router.post("/wristbands", response_model=WristbandOut, status_code=status.HTTP_201_CREATED)
def register_wristband(body: WristbandIn, session: SessionDep, caller: StaffDep) -> Wristband:
    if session.get(Wristband, body.mac) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"wristband {body.mac} is registered")
    if body.resident_id and session.get(Resident, body.resident_id) is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"resident {body.resident_id} does not exist"
        )
    band = Wristband(
        mac=body.mac, bind_key=body.bind_key, resident_id=body.resident_id, created_at=utcnow()
    )
    session.add(band)
    _audit(session, caller.subject, "wristband.register", body.mac)
    session.commit()
    return band


@router.get("/wristbands", response_model=list[WristbandOut])
def list_wristbands(session: SessionDep, caller: StaffDep) -> list[Wristband]:
    return list(session.execute(select(Wristband).order_by(Wristband.mac)).scalars().all())
