"""Gateway workflows: create (with a one-time enrollment token), change what it covers
and its rules, issue a new token, revoke. Each call is one transaction, committed here;
the API routes parse, authorise and call (fleet/api/routes/gateways.py)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contract.rules import GatewayRules
from fleet.auth import Caller, Role
from fleet.db.models import Gateway, GatewayCommunity
from fleet.db.session import utcnow
from fleet.errors import Conflict, Invalid, NotFound
from fleet.provisioning import enrollment
from fleet.registry import audit, config_push, scope
from fleet.registry.bands import visible_community


@dataclass(frozen=True, slots=True)
class NewGateway:
    id: str
    location: str
    latitude: float | None
    longitude: float | None
    communities: list[str]
    rules: GatewayRules


@dataclass(frozen=True, slots=True)
class Placement:
    """The fields of a change that were given (``None`` means: not given)."""

    changes: dict[str, Any]
    communities: list[str] | None
    rules: GatewayRules | None


def stored_rules(rules: GatewayRules) -> dict[str, Any]:
    # Only what staff set: defaults not written down follow the fleet's version.
    return rules.model_dump(mode="json", exclude_unset=True)


def get(session: Session, caller: Caller, gateway_id: str) -> Gateway:
    gateway = session.execute(
        select(Gateway).where(Gateway.id == gateway_id, scope.gateways(caller))
    ).scalar_one_or_none()
    if gateway is None:
        raise NotFound(f"gateway {gateway_id} not found")
    return gateway


def visible(session: Session, caller: Caller) -> list[Gateway]:
    rows = session.execute(select(Gateway).where(scope.gateways(caller)).order_by(Gateway.id))
    return list(rows.scalars())


def _check_communities(session: Session, caller: Caller, ids: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(ids))
    for community_id in unique:
        visible_community(session, caller, community_id)
    if caller.role is Role.STAFF and not unique:
        raise Invalid("staff create gateways for at least one community of their town")
    return unique


def _check_may_edit(session: Session, caller: Caller, gateway: Gateway) -> None:
    # A gateway on a town boundary may cover communities of two towns: only staff of a
    # town that owns every covered community (or an admin) may change it.
    for link in gateway.communities:
        visible_community(session, caller, link.community_id)


def create(
    session: Session, caller: Caller, new: NewGateway, *, reserved: set[str], ttl: timedelta
) -> tuple[Gateway, str]:
    """The gateway and its one-time enrollment token (shown once)."""
    if new.id in reserved:
        raise Invalid(f"{new.id} is the name of a broker account of the fleet; pick another id")
    if session.get(Gateway, new.id) is not None:
        raise Conflict(f"gateway {new.id} exists")
    communities = _check_communities(session, caller, new.communities)
    now = utcnow()
    gateway = Gateway(
        id=new.id,
        location=new.location,
        latitude=new.latitude,
        longitude=new.longitude,
        state="created",
        rules=stored_rules(new.rules),
        broker_synced=True,
        desired_version=0,
        published_version=0,
        created_at=now,
    )
    gateway.communities = [GatewayCommunity(community_id=c) for c in communities]
    token = enrollment.new_token(gateway, ttl, now)
    session.add(gateway)
    audit.record(session, caller, "gateway.create", new.id, communities=communities)
    session.commit()
    return gateway, token


def update(
    session: Session, caller: Caller, gateway_id: str, change: Placement
) -> tuple[Gateway, bool]:
    """The changed gateway, and whether its config must be published again."""
    gateway = get(session, caller, gateway_id)
    _check_may_edit(session, caller, gateway)
    changes = change.changes
    for name in ("location", "latitude", "longitude"):
        if name in changes and (changes[name] is not None or name != "location"):
            setattr(gateway, name, changes[name])
    if change.communities is not None:
        wanted = _check_communities(session, caller, change.communities)
        gateway.communities = [GatewayCommunity(community_id=c) for c in wanted]
    if change.rules is not None:
        gateway.rules = stored_rules(change.rules)
    bumped: set[str] = set()
    if {"communities", "rules"} & changes.keys():
        bumped = config_push.bump_gateways(session, [gateway.id])
    audit.record(session, caller, "gateway.update", gateway.id, fields=sorted(changes))
    session.commit()
    session.refresh(gateway)
    return gateway, bool(bumped)


def new_token(
    session: Session, caller: Caller, gateway_id: str, ttl: timedelta
) -> tuple[Gateway, str]:
    """A new one-time token (the old one stops working); current credentials work until
    it is used."""
    gateway = get(session, caller, gateway_id)
    _check_may_edit(session, caller, gateway)
    token = enrollment.new_token(gateway, ttl, utcnow())
    audit.record(session, caller, "gateway.enrollment_token", gateway.id)
    session.commit()
    return gateway, token


def mark_revoked(sessions: "sessionmaker[Session]", caller: Caller, gateway_id: str) -> str | None:
    """Revoke in the registry; returns the broker account the caller must then disable."""
    with sessions.begin() as session:
        gateway = get(session, caller, gateway_id)
        _check_may_edit(session, caller, gateway)
        if gateway.state == "revoked" and gateway.broker_synced:
            raise Conflict(f"gateway {gateway_id} is revoked already")
        enrollment.revoke(session, gateway, utcnow())
        audit.record(session, caller, "gateway.revoke", gateway.id)
        return gateway.mqtt_username
