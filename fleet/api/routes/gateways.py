"""Gateways: create, enroll (one-time token), cover communities, push config, revoke."""

import asyncio
import logging
from datetime import datetime, timedelta

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from contract.config import GatewayConfig
from contract.enrollment import EnrollmentRequest, EnrollmentResponse
from contract.rules import GatewayRules
from fleet.api.deps import (
    DynsecDep,
    PublisherDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
    StaffDep,
    VaultDep,
)
from fleet.api.schemas import Address, GatewayId, GatewayIdPath, OpaqueId, SetAsideOut
from fleet.db.models import Gateway
from fleet.errors import Conflict
from fleet.provisioning import enrollment
from fleet.registry import config_push, gateways
from fleet.settings import FleetSettings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["gateways"])


class GatewayIn(BaseModel):
    id: GatewayId
    location: Address = Field("", description="where it is mounted, e.g. 'block 3, stairwell'")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    communities: list[OpaqueId] = Field(default_factory=list, max_length=50)
    rules: GatewayRules = Field(
        GatewayRules(), description="thresholds for every band; the type the gateway applies"
    )
    enrollment_ttl_h: float | None = Field(None, gt=0, le=24 * 30)


class GatewayPatch(BaseModel):
    location: Address | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    communities: list[OpaqueId] | None = Field(None, max_length=50)
    rules: GatewayRules | None = None


class TokenIn(BaseModel):
    enrollment_ttl_h: float | None = Field(None, gt=0, le=24 * 30)


class GatewayOut(BaseModel):
    id: str
    location: str
    latitude: float | None
    longitude: float | None
    state: str = Field(description="created | enrolled | revoked")
    communities: list[str]
    rules: GatewayRules
    mqtt_username: str | None
    public_key: str | None
    enrolled_at: datetime | None
    revoked_at: datetime | None
    enrollment_expires_at: datetime | None
    desired_version: int
    published_version: int
    reported_version: int | None
    reported_ok: bool | None
    reported_error: str | None
    reported_at: datetime | None
    reported_set_aside: list[SetAsideOut] = Field(
        description="parts of the running config the gateway could not apply, and why"
    )
    config_in_sync: bool = Field(description="the gateway reports running the desired version")
    broker_synced: bool


class GatewayCreated(GatewayOut):
    enrollment_token: str = Field(description="shown once; give it to the site engineer")


def _out(gateway: Gateway) -> GatewayOut:
    return GatewayOut(
        id=gateway.id,
        location=gateway.location,
        latitude=gateway.latitude,
        longitude=gateway.longitude,
        state=gateway.state,
        communities=[link.community_id for link in gateway.communities],
        rules=config_push.gateway_rules(gateway),
        mqtt_username=gateway.mqtt_username,
        public_key=gateway.public_key,
        enrolled_at=gateway.enrolled_at,
        revoked_at=gateway.revoked_at,
        enrollment_expires_at=gateway.enrollment_expires_at,
        desired_version=gateway.desired_version,
        published_version=gateway.published_version,
        reported_version=gateway.reported_version,
        reported_ok=gateway.reported_ok,
        reported_error=gateway.reported_error,
        reported_at=gateway.reported_at,
        reported_set_aside=[SetAsideOut(**part) for part in gateway.reported_set_aside or []],
        config_in_sync=gateway.reported_version == gateway.desired_version,
        broker_synced=gateway.broker_synced,
    )


def _reserved_names(settings: FleetSettings) -> set[str]:
    return {settings.mqtt.username, settings.provisioning.dynsec_username}


@router.post("/gateways", response_model=GatewayCreated, status_code=status.HTTP_201_CREATED)
def create_gateway(
    body: GatewayIn, session: SessionDep, caller: StaffDep, settings: SettingsDep
) -> GatewayCreated:
    new = gateways.NewGateway(
        id=body.id,
        location=body.location,
        latitude=body.latitude,
        longitude=body.longitude,
        communities=body.communities,
        rules=body.rules,
    )
    ttl = timedelta(hours=body.enrollment_ttl_h or settings.provisioning.enrollment_ttl_h)
    gateway, token = gateways.create(
        session, caller, new, reserved=_reserved_names(settings), ttl=ttl
    )
    return GatewayCreated(**_out(gateway).model_dump(), enrollment_token=token)


@router.get("/gateways", response_model=list[GatewayOut])
def list_gateways(session: SessionDep, caller: StaffDep) -> list[GatewayOut]:
    return [_out(g) for g in gateways.visible(session, caller)]


@router.get("/gateways/{gateway_id}", response_model=GatewayOut)
def get_gateway(gateway_id: GatewayIdPath, session: SessionDep, caller: StaffDep) -> GatewayOut:
    return _out(gateways.get(session, caller, gateway_id))


@router.get(
    "/gateways/{gateway_id}/config",
    response_model=GatewayConfig,
    summary="The desired config as published (sealed)",
)
def get_gateway_config(
    gateway_id: GatewayIdPath, session: SessionDep, caller: StaffDep, vault: VaultDep
) -> GatewayConfig:
    gateway = gateways.get(session, caller, gateway_id)
    if gateway.state != "enrolled":
        raise Conflict(f"gateway {gateway_id} is {gateway.state}; it has no config to show")
    return config_push.build_config(session, gateway, vault)


@router.patch("/gateways/{gateway_id}", response_model=GatewayOut)
def update_gateway(
    gateway_id: GatewayIdPath,
    body: GatewayPatch,
    session: SessionDep,
    caller: StaffDep,
    publisher: PublisherDep,
) -> GatewayOut:
    change = gateways.Placement(
        changes=body.model_dump(exclude_unset=True),
        communities=body.communities,
        rules=body.rules,
    )
    gateway, bumped = gateways.update(session, caller, gateway_id, change)
    if bumped:
        publisher.poke()
    return _out(gateway)


@router.post("/gateways/{gateway_id}/enrollment-token", response_model=GatewayCreated)
def new_enrollment_token(
    gateway_id: GatewayIdPath,
    body: TokenIn,
    session: SessionDep,
    caller: StaffDep,
    settings: SettingsDep,
) -> GatewayCreated:
    """A new one-time token (the old one stops working), e.g. to re-enroll replaced
    hardware or a revoked gateway. The current credentials work until it is used."""
    ttl = timedelta(hours=body.enrollment_ttl_h or settings.provisioning.enrollment_ttl_h)
    gateway, token = gateways.new_token(session, caller, gateway_id, ttl)
    return GatewayCreated(**_out(gateway).model_dump(), enrollment_token=token)


@router.post("/gateways/{gateway_id}/revoke", response_model=GatewayOut)
async def revoke_gateway(
    gateway_id: GatewayIdPath, caller: StaffDep, sessions: SessionsDep, publisher: PublisherDep
) -> GatewayOut:
    """Revoke at once: the broker refuses the gateway's credentials and disconnects it.
    If the broker is unreachable, this is retried in the background (broker_synced
    stays false until done)."""
    username = await asyncio.to_thread(gateways.mark_revoked, sessions, caller, gateway_id)
    try:
        await publisher.apply_revocation(gateway_id, username)
    except Exception as exc:  # broker down or refusing: the publisher retries
        log.warning("revocation of %s not yet applied in the broker: %s", gateway_id, exc)
        publisher.poke()

    def load() -> GatewayOut:
        with sessions() as session:
            return _out(gateways.get(session, caller, gateway_id))

    return await asyncio.to_thread(load)


@router.post(
    "/enroll",
    response_model=EnrollmentResponse,
    tags=["gateways"],
    summary="Enroll a gateway with its one-time token (called by 'silverguard gateway enroll')",
)
async def enroll(
    *,
    body: EnrollmentRequest,
    sessions: SessionsDep,
    settings: SettingsDep,
    publisher: PublisherDep,
    vault: VaultDep,
    dynsec: DynsecDep,
) -> EnrollmentResponse:
    """No bearer token: the one-time enrollment token is the credential."""
    response = await enrollment.enroll(
        sessions, dynsec, vault, settings, token=body.token, public_key=body.public_key
    )
    publisher.poke()
    return response
