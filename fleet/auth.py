"""Who is calling: bearer tokens, password sign-in, roles.

Tokens are random, stored only as SHA-256 hashes, each with a subject and a role;
tokens from a password sign-in expire. Passwords are kept as Argon2id hashes
(pwdlib). A caller is an admin, health-center staff of one town, or a caregiver
(whose subject is their caregiver id).
"""

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db.models import ApiToken, User
from fleet.db.session import utcnow
from fleet.errors import Unauthorized

_PASSWORDS = PasswordHash.recommended()


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this when the user does not exist costs the same time as a real
    # check, so response times do not tell which user names exist.
    return _PASSWORDS.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"  # health-center staff: their town only
    CAREGIVER = "caregiver"  # their own residents only


class AuthError(Unauthorized):
    """Credentials that do not let anyone in; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    role: Role
    town_id: str | None = None  # staff: the town they serve

    @property
    def actor(self) -> str:
        """How the caller appears in audit and alert logs."""
        return f"{self.role}:{self.subject}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _PASSWORDS.hash(password)


def issue_token(
    session: Session, *, subject: str, role: Role, expires_at: datetime | None = None
) -> str:
    """Create a token and return it; only its hash is kept, so it is shown once."""
    token = "sg_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            subject=subject,
            role=role.value,
            created_at=utcnow(),
            expires_at=expires_at,
        )
    )
    return token


def lookup(session: Session, token: str) -> ApiToken | None:
    return session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()


def resolve_caller(session: Session, token: str, now: datetime) -> Caller:
    """The caller a bearer token stands for; AuthError if it lets no one in."""
    row = lookup(session, token)
    if row is None:
        raise AuthError("unknown or revoked token")
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthError("token expired; sign in again")
    user = session.get(User, row.subject)
    if user is not None and not user.active:
        raise AuthError("this account is disabled")
    if user is not None and user.role != row.role:
        raise AuthError("token no longer matches the account's role; get a new one")
    return Caller(row.subject, Role(row.role), user.town_id if user is not None else None)


def sign_in(session: Session, *, username: str, password: str, ttl: timedelta) -> str:
    """Check a password and issue an expiring token; AuthError on any mismatch."""
    user = session.get(User, username)
    if user is None or user.password_hash is None:
        _PASSWORDS.verify(password, _dummy_hash())
        raise AuthError("wrong user name or password")
    if not _PASSWORDS.verify(password, user.password_hash):
        raise AuthError("wrong user name or password")
    if not user.active:
        raise AuthError("this account is disabled")
    return issue_token(session, subject=user.id, role=Role(user.role), expires_at=utcnow() + ttl)


def revoke_tokens(session: Session, subject: str) -> None:
    """Drop every token of a subject (password change, account disabled)."""
    for row in session.execute(select(ApiToken).where(ApiToken.subject == subject)).scalars():
        session.delete(row)
