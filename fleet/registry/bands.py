"""Wristbands: register, assign to a resident, retire. Every change that moves a band in
or out of a community bumps the config of the gateways covering it."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleet.auth import Caller
from fleet.db.models import Community, Resident, Wristband
from fleet.errors import Conflict, Invalid, NotFound
from fleet.registry import config_push, scope
from fleet.registry.vault import Vault


def visible_community(session: Session, caller: Caller, community_id: str) -> Community:
    community = session.get(Community, community_id)
    if community is None or not scope.may_use_community(caller, community):
        raise Invalid(f"community {community_id} does not exist or is outside your town")
    return community


def visible_resident(session: Session, caller: Caller, resident_id: str) -> Resident:
    resident = session.execute(
        select(Resident).where(Resident.id == resident_id, scope.residents(caller))
    ).scalar_one_or_none()
    if resident is None:
        raise Invalid(f"resident {resident_id} does not exist or is outside your town")
    return resident


def active_band_of(session: Session, resident_id: str) -> Wristband | None:
    return session.execute(
        select(Wristband).where(Wristband.resident_id == resident_id, Wristband.state == "active")
    ).scalar_one_or_none()


def get_band(session: Session, caller: Caller, mac: str) -> Wristband:
    band = session.execute(
        select(Wristband).where(Wristband.mac == mac, scope.wristbands(caller))
    ).scalar_one_or_none()
    if band is None:
        raise NotFound(f"wristband {mac} not found")
    return band


def register(
    session: Session,
    caller: Caller,
    vault: Vault,
    *,
    mac: str,
    key: bytes,
    community_id: str | None,
    resident_id: str | None,
    firmware: str,
    now: datetime,
    sample_rate_hz: float | None = None,
) -> tuple[Wristband, set[str]]:
    if session.get(Wristband, mac) is not None:
        raise Conflict(f"wristband {mac} is registered already")
    resident = visible_resident(session, caller, resident_id) if resident_id else None
    if resident is not None:
        if community_id and community_id != resident.community_id:
            raise Invalid(
                f"resident {resident.id} lives in community {resident.community_id}, "
                f"not {community_id}"
            )
        community_id = resident.community_id
        current = active_band_of(session, resident.id)
        if current is not None:
            raise Conflict(
                f"resident {resident.id} already wears band {current.mac}; "
                "retire it or move it first"
            )
    if community_id is None:
        raise Invalid("give the community the band is kept in, or the resident who wears it")
    visible_community(session, caller, community_id)
    band = Wristband(
        mac=mac,
        bind_key=vault.seal(key),
        resident_id=resident.id if resident else None,
        community_id=community_id,
        firmware=firmware,
        sample_rate_hz=sample_rate_hz,
        state="active",
        created_at=now,
    )
    session.add(band)
    session.flush()
    bumped = config_push.bump_communities(session, [community_id]) if resident else set()
    return band, bumped


def assign(
    session: Session, caller: Caller, band: Wristband, resident_id: str | None, now: datetime
) -> set[str]:
    """Give the band to another resident (or take it back to stock with None)."""
    if band.state != "active":
        raise Conflict(f"wristband {band.mac} is retired; register a new band instead")
    before = band.community_id if band.resident_id else None
    if resident_id is None:
        band.resident_id = None
        band.updated_at = now
        return config_push.bump_communities(session, [before])
    resident = visible_resident(session, caller, resident_id)
    current = active_band_of(session, resident.id)
    if current is not None and current.mac != band.mac:
        raise Conflict(
            f"resident {resident.id} already wears band {current.mac}; retire it or move it first"
        )
    band.resident_id = resident.id
    band.community_id = resident.community_id
    band.updated_at = now
    return config_push.bump_communities(session, [before, resident.community_id])


def retire(session: Session, band: Wristband, now: datetime) -> set[str]:
    if band.state == "retired":
        raise Conflict(f"wristband {band.mac} is retired already")
    before = band.community_id if band.resident_id else None
    band.state = "retired"
    band.retired_at = now
    band.updated_at = now
    return config_push.bump_communities(session, [before])


def seal_legacy_keys(sessions: "sessionmaker[Session]", vault: Vault) -> None:
    """Bind keys stored in clear by an older version get encrypted, once, at start-up."""
    with sessions.begin() as session:
        for band in session.execute(select(Wristband)).scalars():
            if Vault.is_legacy(band.bind_key):
                band.bind_key = vault.seal(vault.open(band.bind_key))
