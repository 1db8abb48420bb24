"""Gateways: create, enroll (one-time token), cover communities, push config, revoke."""

import asyncio
import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.acl import gateway_acls
from contract.config import GatewayConfig
from contract.enrollment import EnrollmentRequest, EnrollmentResponse, MqttCredentials
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
from fleet.auth import Caller, Role
from fleet.db.models import Gateway, GatewayCommunity
from fleet.db.session import utcnow
from fleet.errors import Conflict, Invalid, NotFound, Unavailable
from fleet.provisioning import enrollment
from fleet.provisioning.dynsec import DynsecError
from fleet.registry import audit, config_push, scope
from fleet.registry.bands import visible_community
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


def _stored_rules(rules: GatewayRules) -> dict[str, Any]:
    # Only what staff set: defaults not written down follow the fleet's version.
    return rules.model_dump(mode="json", exclude_unset=True)


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


def _get(session: Session, caller: Caller, gateway_id: str) -> Gateway:
    gateway = session.execute(
        select(Gateway).where(Gateway.id == gateway_id, scope.gateways(caller))
    ).scalar_one_or_none()
    if gateway is None:
        raise NotFound(f"gateway {gateway_id} not found")
    return gateway


def _check_communities(session: Session, caller: Caller, ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(ids))
    for community_id in unique:
        visible_community(session, caller, community_id)
    if caller.role is Role.STAFF and not unique:
        raise Invalid("staff create gateways for at least one community of their town")
    return unique


def _check_staff_may_edit(session: Session, caller: Caller, gateway: Gateway) -> None:
    # A gateway on a town boundary may cover communities of two towns: only staff of a
    # town that owns every covered community (or an admin) may change it.
    for link in gateway.communities:
        visible_community(session, caller, link.community_id)


def _reserved_names(settings: FleetSettings) -> set[str]:
    return {settings.mqtt.username, settings.provisioning.dynsec_username}


@router.post("/gateways", response_model=GatewayCreated, status_code=status.HTTP_201_CREATED)
def create_gateway(
    body: GatewayIn, session: SessionDep, caller: StaffDep, settings: SettingsDep
) -> GatewayCreated:
    if body.id in _reserved_names(settings):
        raise Invalid(f"{body.id} is the name of a broker account of the fleet; pick another id")
    if session.get(Gateway, body.id) is not None:
        raise Conflict(f"gateway {body.id} exists")
    communities = _check_communities(session, caller, body.communities)
    now = utcnow()
    gateway = Gateway(
        id=body.id,
        location=body.location,
        latitude=body.latitude,
        longitude=body.longitude,
        state="created",
        rules=_stored_rules(body.rules),
        broker_synced=True,
        desired_version=0,
        published_version=0,
        created_at=now,
    )
    gateway.communities = [GatewayCommunity(community_id=c) for c in communities]
    ttl = timedelta(hours=body.enrollment_ttl_h or settings.provisioning.enrollment_ttl_h)
    token = enrollment.new_token(gateway, ttl, now)
    session.add(gateway)
    audit.record(session, caller, "gateway.create", body.id, communities=communities)
    session.commit()
    return GatewayCreated(**_out(gateway).model_dump(), enrollment_token=token)


@router.get("/gateways", response_model=list[GatewayOut])
def list_gateways(session: SessionDep, caller: StaffDep) -> list[GatewayOut]:
    rows = session.execute(select(Gateway).where(scope.gateways(caller)).order_by(Gateway.id))
    return [_out(g) for g in rows.scalars()]


@router.get("/gateways/{gateway_id}", response_model=GatewayOut)
def get_gateway(gateway_id: GatewayIdPath, session: SessionDep, caller: StaffDep) -> GatewayOut:
    return _out(_get(session, caller, gateway_id))


@router.get(
    "/gateways/{gateway_id}/config",
    response_model=GatewayConfig,
    summary="The desired config as published (sealed)",
)
def get_gateway_config(
    gateway_id: GatewayIdPath, session: SessionDep, caller: StaffDep, vault: VaultDep
) -> GatewayConfig:
    gateway = _get(session, caller, gateway_id)
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
    gateway = _get(session, caller, gateway_id)
    _check_staff_may_edit(session, caller, gateway)
    changes = body.model_dump(exclude_unset=True)
    for name in ("location", "latitude", "longitude"):
        if name in changes and (changes[name] is not None or name != "location"):
            setattr(gateway, name, changes[name])
    if body.communities is not None:
        wanted = _check_communities(session, caller, body.communities)
        gateway.communities = [GatewayCommunity(community_id=c) for c in wanted]
    if body.rules is not None:
        gateway.rules = _stored_rules(body.rules)
    bumped = set()
    if {"communities", "rules"} & changes.keys():
        bumped = config_push.bump_gateways(session, [gateway.id])
    audit.record(session, caller, "gateway.update", gateway.id, fields=sorted(changes))
    session.commit()
    session.refresh(gateway)
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
    gateway = _get(session, caller, gateway_id)
    _check_staff_may_edit(session, caller, gateway)
    ttl = timedelta(hours=body.enrollment_ttl_h or settings.provisioning.enrollment_ttl_h)
    token = enrollment.new_token(gateway, ttl, utcnow())
    audit.record(session, caller, "gateway.enrollment_token", gateway.id)
    session.commit()
    return GatewayCreated(**_out(gateway).model_dump(), enrollment_token=token)


@router.post("/gateways/{gateway_id}/revoke", response_model=GatewayOut)
async def revoke_gateway(
    gateway_id: GatewayIdPath, caller: StaffDep, sessions: SessionsDep, publisher: PublisherDep
) -> GatewayOut:
    """Revoke at once: the broker refuses the gateway's credentials and disconnects it.
    If the broker is unreachable, this is retried in the background (broker_synced
    stays false until done)."""

    def mark() -> str | None:
        with sessions.begin() as session:
            gateway = _get(session, caller, gateway_id)
            _check_staff_may_edit(session, caller, gateway)
            if gateway.state == "revoked" and gateway.broker_synced:
                raise Conflict(f"gateway {gateway_id} is revoked already")
            enrollment.revoke(session, gateway, utcnow())
            audit.record(session, caller, "gateway.revoke", gateway.id)
            return gateway.mqtt_username

    username = await asyncio.to_thread(mark)
    try:
        await publisher.apply_revocation(gateway_id, username)
    except Exception as exc:  # broker down or refusing: the publisher retries
        log.warning("revocation of %s not yet applied in the broker: %s", gateway_id, exc)
        publisher.poke()

    def load() -> GatewayOut:
        with sessions() as session:
            return _out(_get(session, caller, gateway_id))

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
    prov = settings.provisioning
    now = utcnow()
    claim = await asyncio.to_thread(enrollment.claim, sessions, body.token, body.public_key, now)
    username = claim.gateway_id
    password = secrets.token_urlsafe(24)
    ca_cert = ""
    try:
        if prov.ca_file is not None:
            ca_cert = await asyncio.to_thread(Path(prov.ca_file).read_text)
        # A gateway connects with its gateway id as client id, and with nothing else.
        await dynsec.provision(
            username, password, gateway_acls(claim.gateway_id), client_id=claim.gateway_id
        )
    except (DynsecError, OSError) as exc:
        await asyncio.to_thread(enrollment.give_back, sessions, claim)
        log.warning("enrollment of %s failed, token kept: %s", claim.gateway_id, exc)
        raise Unavailable(
            f"could not create the gateway's broker credentials ({exc}); "
            "the token is still valid, try again shortly"
        ) from None
    config = await asyncio.to_thread(
        enrollment.complete, sessions, claim, username, vault, utcnow()
    )
    publisher.poke()
    tls = prov.broker_tls if prov.broker_tls is not None else prov.ca_file is not None
    return EnrollmentResponse(
        gateway_id=claim.gateway_id,
        mqtt=MqttCredentials(
            host=prov.broker_host or settings.mqtt.host,
            port=prov.broker_port or settings.mqtt.port,
            username=username,
            password=password,
            tls=tls,
        ),
        ca_cert=ca_cert,
        config=config,
    )
