"""What each gateway must be told, and when to tell it again.

Any change that affects a gateway (a band registered, moved or retired in a community it
covers, a resident's care plan, a caregiver's phone, the gateway's own rules or
coverage) bumps the gateway's ``desired_version`` in the same transaction as the
change. The publisher (``fleet.provisioning.publisher``) notices versions not yet
published and publishes the config, retained, built from the registry as it is then.

Secrets leave only sealed to the gateway's own public key: bind keys in
``BandConfig.sealed_key``, caregivers' phone numbers in ``ResidentConfig.sealed_contacts``.

The config is built from the contract's own types (contract/config.py), so the
gateway reads exactly what is built here. A row that cannot be turned into its part
(an unreadable key, a stored plan or meter that no longer validates) is left out and
logged; the rest of the gateway's config still goes out.
"""

import json
import logging
from collections.abc import Iterable

import msgspec
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from contract.config import BandConfig, ConfigReport, GatewayConfig, ResidentConfig, explain
from contract.meters import MeterConfig
from contract.rules import GatewayRules
from contract.sealing import seal
from fleet.db.models import CareLink, Gateway, GatewayCommunity, Meter, Resident, Wristband
from fleet.db.session import utcnow
from fleet.registry import careplans
from fleet.registry.vault import Vault, VaultError

log = logging.getLogger(__name__)


def bump_gateways(session: Session, gateway_ids: Iterable[str]) -> set[str]:
    ids = set(gateway_ids)
    if ids:
        session.execute(
            update(Gateway)
            .where(Gateway.id.in_(ids))
            .values(desired_version=Gateway.desired_version + 1)
        )
    return ids


def bump_communities(session: Session, community_ids: Iterable[str | None]) -> set[str]:
    """Bump every gateway covering one of these communities; return their ids."""
    wanted = {c for c in community_ids if c}
    if not wanted:
        return set()
    gateway_ids = set(
        session.execute(
            select(GatewayCommunity.gateway_id).where(GatewayCommunity.community_id.in_(wanted))
        ).scalars()
    )
    return bump_gateways(session, gateway_ids)


def build_config(session: Session, gateway: Gateway, vault: Vault) -> GatewayConfig:
    """The gateway's desired config at its current ``desired_version``."""
    if not gateway.public_key:
        raise ValueError(f"gateway {gateway.id} is not enrolled: no key to seal its secrets to")
    public_key = gateway.public_key
    covered = [link.community_id for link in gateway.communities]
    residents = (
        session.execute(
            select(Resident)
            .where(Resident.community_id.in_(covered))
            .options(selectinload(Resident.caregivers).selectinload(CareLink.caregiver))
            .order_by(Resident.id)
        )
        .scalars()
        .all()
    )
    flats = {r.id: r.flat for r in residents}
    bands: list[BandConfig] = []
    for band in session.execute(
        select(Wristband)
        .where(Wristband.state == "active", Wristband.resident_id.in_(list(flats)))
        .order_by(Wristband.mac)
    ).scalars():
        try:
            key = vault.open(band.bind_key)
        except VaultError as exc:
            # One unreadable key must not keep every other band off the gateway.
            log.error("config for %s: band %s left out: %s", gateway.id, band.mac, exc)
            continue
        bands.append(
            BandConfig(
                mac=band.mac,
                sealed_key=seal(public_key, key),
                resident=band.resident_id,
                flat=flats.get(band.resident_id or ""),
                sample_rate_hz=band.sample_rate_hz,
            )
        )
    resident_configs = []
    for resident in residents:
        carers = [link.caregiver for link in resident.caregivers]
        phones = [carer.phone for carer in carers if carer.phone]
        resident_configs.append(
            ResidentConfig(
                resident=resident.id,
                flat=resident.flat,
                plan=careplans.load(resident.id, resident.settings),
                sealed_contacts=seal(public_key, json.dumps(phones).encode()) if phones else None,
                # The gateway's own SMS speaks the first caregiver's language.
                sms_locale="en" if carers and carers[0].locale == "en" else "zh-CN",
            )
        )
    return GatewayConfig(
        gateway=gateway.id,
        version=gateway.desired_version,
        bands=bands,
        residents=resident_configs,
        meters=_meters(session, gateway.id),
        rules=gateway_rules(gateway),
    )


def gateway_rules(gateway: Gateway) -> GatewayRules:
    try:
        return GatewayRules.model_validate(gateway.rules or {})
    except ValidationError as exc:
        log.error("rules of %s no longer validate; sending defaults: %s", gateway.id, explain(exc))
        return GatewayRules()


def _meters(session: Session, gateway_id: str) -> list[MeterConfig]:
    meters = []
    for meter in session.execute(
        select(Meter).where(Meter.gateway_id == gateway_id).order_by(Meter.id)
    ).scalars():
        try:
            meters.append(MeterConfig.model_validate(meter.config))
        except ValidationError as exc:
            log.error("meter %s left out of %s's config: %s", meter.id, gateway_id, explain(exc))
    return meters


def store_report(sessions: "sessionmaker[Session]", report: ConfigReport) -> None:
    """What a gateway says it applied (``config/reported``): the version, whether it ran
    it whole, and the parts it set aside — shown on the gateways page and the API."""
    with sessions.begin() as session:
        session.execute(
            update(Gateway)
            .where(Gateway.id == report.gateway)
            .values(
                reported_version=report.version,
                reported_ok=report.ok,
                reported_error=(report.error or None) and report.error[:2000],
                reported_set_aside=[msgspec.structs.asdict(part) for part in report.set_aside],
                reported_at=utcnow(),
            )
        )
