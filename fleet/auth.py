"""API tokens: random bearer tokens, stored only as SHA-256 hashes, each with a role."""

import hashlib
import secrets
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db.models import ApiToken
from fleet.db.session import utcnow


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"  # health-center staff
    CAREGIVER = "caregiver"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, *, subject: str, role: Role) -> str:
    """Create a token and return it; only its hash is kept, so it is shown once."""
    token = "sg_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=hash_token(token), subject=subject, role=role.value, created_at=utcnow()
        )
    )
    return token


def lookup(session: Session, token: str) -> ApiToken | None:
    return session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
