"""Gateway enrollment with a one-time token, and revocation.

Staff create a gateway and get a token (shown once; only its SHA-256 is kept) that
expires. The gateway, on site, makes its own key pair and presents the token with its
public key. The fleet then:

1. claims the token (a conditional UPDATE, so two presentations cannot both win) and
   commits, recording the public key;
2. creates the gateway's MQTT client in Mosquitto through dynamic security, with a
   fresh random password and an ACL limited to the gateway's own topics;
3. marks the gateway enrolled, bumps its config version and returns the credentials,
   the CA and the first config. The broker keeps only a hash of the password; the
   fleet keeps none.

If step 2 fails (broker down), the token is put back, so the engineer can try again.
"""

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from contract.acl import gateway_acls
from contract.config import GatewayConfig
from contract.enrollment import EnrollmentResponse, MqttCredentials
from contract.sealing import SealError, seal
from fleet.db.models import Gateway
from fleet.db.session import utcnow
from fleet.errors import Forbidden, NotFound, Unavailable
from fleet.provisioning.dynsec import Dynsec, DynsecError
from fleet.registry import audit
from fleet.registry.config_push import build_config
from fleet.registry.vault import Vault
from fleet.settings import FleetSettings

log = logging.getLogger(__name__)


class EnrollmentRefused(Forbidden):
    """The token does not enroll anything; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Claim:
    gateway_id: str
    token_hash: str
    expires_at: datetime


def hash_enrollment_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(gateway: Gateway, ttl: timedelta, now: datetime) -> str:
    """Give the gateway a fresh one-time token (replacing any unused one); return it."""
    token = "sge_" + secrets.token_urlsafe(24)
    gateway.enrollment_token_hash = hash_enrollment_token(token)
    gateway.enrollment_expires_at = now + ttl
    return token


def check_public_key(public_key: str) -> None:
    try:
        seal(public_key, b"probe")
    except SealError as exc:
        raise EnrollmentRefused(f"public_key: {exc}") from None


def claim(sessions: sessionmaker[Session], token: str, public_key: str, now: datetime) -> Claim:
    """Use up the token for good (its own transaction); EnrollmentRefused if it is no good."""
    check_public_key(public_key)
    token_hash = hash_enrollment_token(token)
    with sessions.begin() as session:
        gateway = session.query(Gateway).filter(Gateway.enrollment_token_hash == token_hash).first()
        if gateway is None:
            raise EnrollmentRefused("unknown or already used enrollment token")
        expires_at = gateway.enrollment_expires_at
        if expires_at is None or expires_at <= now:
            raise EnrollmentRefused(
                "this enrollment token has expired; ask for a new one "
                f"(POST /api/v1/gateways/{gateway.id}/enrollment-token)"
            )
        won = session.execute(
            update(Gateway)
            .where(Gateway.id == gateway.id, Gateway.enrollment_token_hash == token_hash)
            .values(enrollment_token_hash=None, public_key=public_key)
        ).rowcount  # type: ignore[attr-defined]
        if won != 1:
            raise EnrollmentRefused("unknown or already used enrollment token")
        return Claim(gateway.id, token_hash, expires_at)


def give_back(sessions: sessionmaker[Session], claim: Claim) -> None:
    """Put the token back after a failure, unless a new one was issued meanwhile."""
    with sessions.begin() as session:
        session.execute(
            update(Gateway)
            .where(Gateway.id == claim.gateway_id, Gateway.enrollment_token_hash.is_(None))
            .values(enrollment_token_hash=claim.token_hash, enrollment_expires_at=claim.expires_at)
        )


def complete(
    sessions: sessionmaker[Session], claim: Claim, username: str, vault: Vault, now: datetime
) -> GatewayConfig:
    """Mark the gateway enrolled and return its first config."""
    with sessions.begin() as session:
        gateway = session.get(Gateway, claim.gateway_id)
        if gateway is None:
            raise NotFound(f"gateway {claim.gateway_id} was deleted during enrollment")
        gateway.state = "enrolled"
        gateway.mqtt_username = username
        gateway.enrolled_at = now
        gateway.revoked_at = None
        gateway.broker_synced = True
        gateway.enrollment_expires_at = None
        gateway.desired_version += 1
        session.flush()
        audit.record(session, f"gateway:{gateway.id}", "gateway.enroll", gateway.id)
        return build_config(session, gateway, vault)


def revoke(session: Session, gateway: Gateway, now: datetime) -> None:
    """Mark revoked; the broker side is applied by the caller and retried until done."""
    gateway.state = "revoked"
    gateway.revoked_at = now
    gateway.enrollment_token_hash = None
    gateway.enrollment_expires_at = None
    gateway.broker_synced = False


async def enroll(
    sessions: sessionmaker[Session],
    dynsec: Dynsec,
    vault: Vault,
    settings: FleetSettings,
    *,
    token: str,
    public_key: str,
) -> EnrollmentResponse:
    """The whole enrollment (steps 1-3 above), with the token given back if the broker
    could not make the account."""
    prov = settings.provisioning
    won = await asyncio.to_thread(claim, sessions, token, public_key, utcnow())
    username = won.gateway_id
    password = secrets.token_urlsafe(24)
    ca_cert = ""
    try:
        if prov.ca_file is not None:
            ca_cert = await asyncio.to_thread(Path(prov.ca_file).read_text)
        # A gateway connects with its gateway id as client id, and with nothing else.
        await dynsec.provision(
            username, password, gateway_acls(won.gateway_id), client_id=won.gateway_id
        )
    except (DynsecError, OSError) as exc:
        await asyncio.to_thread(give_back, sessions, won)
        log.warning("enrollment of %s failed, token kept: %s", won.gateway_id, exc)
        raise Unavailable(
            f"could not create the gateway's broker credentials ({exc}); "
            "the token is still valid, try again shortly"
        ) from None
    config = await asyncio.to_thread(complete, sessions, won, username, vault, utcnow())
    tls = prov.broker_tls if prov.broker_tls is not None else prov.ca_file is not None
    return EnrollmentResponse(
        gateway_id=won.gateway_id,
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
