"""Meters in the registry: each flat's water and electricity meters, wired to one gateway.

A meter is registered with the contract's own declaration (contract.meters.MeterConfig:
protocol, bus address, register map, poll interval, line settings) plus the gateway and
community it belongs to. The gateway must cover the flat's community (its residents'
bands are already on it), and registering, changing or removing a meter bumps that
gateway's config, which then carries the meter in ``GatewayConfig.meters``.
"""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.meters import MeterConfig
from fleet.auth import Caller
from fleet.db.models import Gateway, GatewayCommunity, Meter, Resident
from fleet.db.session import utcnow
from fleet.errors import Conflict, Invalid, NotFound
from fleet.registry import audit, config_push, scope
from fleet.registry.bands import visible_community

__all__ = ["Invalid", "check_place", "create_meter", "delete_meter", "get_meter", "replace_meter"]


def get_meter(session: Session, caller: Caller, meter_id: str) -> Meter:
    meter = session.execute(
        select(Meter).where(Meter.id == meter_id, scope.meters(caller))
    ).scalar_one_or_none()
    if meter is None:
        raise NotFound(f"meter {meter_id} not found")
    return meter


def check_place(
    session: Session,
    caller: Caller,
    *,
    config: MeterConfig,
    gateway_id: str,
    community_id: str,
    also: Sequence[MeterConfig] = (),
) -> None:
    """Whether the meter may be wired here (``also``: meters of the same gateway being
    registered with it, e.g. earlier rows of an import file); raises Invalid."""
    visible_community(session, caller, community_id)
    covers = session.execute(
        select(GatewayCommunity.gateway_id).where(
            GatewayCommunity.gateway_id == gateway_id,
            GatewayCommunity.community_id == community_id,
        )
    ).scalar_one_or_none()
    if covers is None or session.get(Gateway, gateway_id) is None:
        raise Invalid(
            f"gateway_id: gateway {gateway_id} does not cover community {community_id}; "
            "a meter is read by a gateway of its flat's community"
        )
    flat_known = session.execute(
        select(Resident.id)
        .where(Resident.flat == config.flat, Resident.community_id == community_id)
        .limit(1)
    ).scalar_one_or_none()
    if flat_known is None:
        raise Invalid(
            f"flat: no resident of community {community_id} lives in flat {config.flat}; "
            "register the resident (with this flat) first"
        )
    others = session.execute(
        select(Meter).where(Meter.gateway_id == gateway_id, Meter.id != config.id)
    ).scalars()
    registered = [MeterConfig.model_validate(m.config) for m in others]
    clash = _bus_clash(config, [*registered, *(m for m in also if m.id != config.id)])
    if clash:
        raise Invalid(clash)


def _bus_clash(config: MeterConfig, others: list[MeterConfig]) -> str:
    """Meters on one port share a bus: same protocol and line, distinct addresses."""
    for other in others:
        if other.port != config.port:
            continue
        if other.protocol != config.protocol or other.line != config.line:
            return (
                f"port: meter {other.id} on {config.port} speaks {other.protocol} at "
                f"{other.line.baud} baud; every meter on one bus must match it"
            )
        if other.address == config.address:
            return (
                f"address: meter {other.id} already has address {config.address} on {config.port}"
            )
    return ""


def create_meter(
    session: Session, caller: Caller, *, config: MeterConfig, gateway_id: str, community_id: str
) -> tuple[Meter, set[str]]:
    """Register a meter; returns it and the gateways whose config changed."""
    if session.get(Meter, config.id) is not None:
        raise Conflict(f"meter {config.id} exists")
    check_place(session, caller, config=config, gateway_id=gateway_id, community_id=community_id)
    meter = Meter(
        id=config.id,
        flat=config.flat,
        community_id=community_id,
        gateway_id=gateway_id,
        config=config.model_dump(mode="json", exclude_defaults=True),
        created_at=utcnow(),
    )
    session.add(meter)
    audit.record(session, caller, "meter.create", config.id, gateway=gateway_id, flat=config.flat)
    return meter, config_push.bump_gateways(session, [gateway_id])


def replace_meter(
    session: Session, caller: Caller, *, config: MeterConfig, gateway_id: str, community_id: str
) -> tuple[Meter, set[str]]:
    meter = get_meter(session, caller, config.id)
    check_place(session, caller, config=config, gateway_id=gateway_id, community_id=community_id)
    before = meter.gateway_id
    meter.flat = config.flat
    meter.community_id = community_id
    meter.gateway_id = gateway_id
    meter.config = config.model_dump(mode="json", exclude_defaults=True)
    meter.updated_at = utcnow()
    audit.record(session, caller, "meter.update", config.id, gateway=gateway_id)
    return meter, config_push.bump_gateways(session, {before, gateway_id})


def delete_meter(session: Session, caller: Caller, meter_id: str) -> set[str]:
    meter = get_meter(session, caller, meter_id)
    gateway_id = meter.gateway_id
    session.delete(meter)
    audit.record(session, caller, "meter.delete", meter_id, gateway=gateway_id)
    return config_push.bump_gateways(session, [gateway_id])
