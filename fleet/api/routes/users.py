"""Sign-in and accounts: OAuth2 password flow, who am I, and admin-managed users."""

import logging
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import select

from fleet import auth
from fleet.api.deps import AdminDep, CallerDep, SessionDep, SettingsDep, ThrottleDep
from fleet.api.schemas import Name, Password, UserId, UserIdPath
from fleet.auth import Role
from fleet.db.models import User
from fleet.db.session import utcnow
from fleet.errors import NotFound, TooManyRequests, Unauthorized
from fleet.registry import audit, users
from fleet.sign_in_throttle import TooManyFailures

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["access"])

RoleName = Literal["admin", "staff", "caregiver"]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - OAuth2's name for the scheme, not a secret
    expires_in: int = Field(description="seconds")


class MeOut(BaseModel):
    subject: str
    role: str
    town_id: str | None


class UserIn(BaseModel):
    id: UserId = Field(description="sign-in name; for a caregiver, their caregiver id")
    role: RoleName
    display_name: Name | None = None
    town_id: str | None = Field(None, max_length=40, description="required for staff")
    password: Password | None = Field(None, description="at least 10 characters")


class UserPatch(BaseModel):
    role: RoleName | None = None
    display_name: Name | None = None
    town_id: str | None = Field(None, max_length=40)
    password: Password | None = None
    active: bool | None = None


class UserOut(BaseModel):
    id: str
    role: str
    display_name: str
    town_id: str | None
    active: bool
    has_password: bool
    created_at: datetime


def _out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        role=user.role,
        display_name=user.display_name,
        town_id=user.town_id,
        active=user.active,
        has_password=user.password_hash is not None,
        created_at=user.created_at,
    )


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Sign in (OAuth2 password flow)",
    responses={429: {"description": "too many failed sign-ins; see Retry-After"}},
)
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> TokenOut:
    ttl = timedelta(hours=settings.session_ttl_h)
    address = request.client.host if request.client else "unknown"
    who = form.username[:80]
    now = utcnow()
    try:
        throttle.check(session, username=who, address=address, now=now)
    except TooManyFailures as exc:
        log.warning("sign-in throttled for %r from %s", who, address)
        raise TooManyRequests(str(exc), retry_after_s=exc.retry_after_s) from None
    try:
        token = auth.sign_in(session, username=form.username, password=form.password, ttl=ttl)
    except auth.AuthError as exc:
        # Every failure is audited (who tried which account from where) and counted.
        session.rollback()
        throttle.failed(session, username=who, address=address, now=now)
        audit.record(
            session, f"user:{who}", "auth.sign_in_failed", who, address=address, reason=str(exc)
        )
        session.commit()
        raise Unauthorized(str(exc)) from None
    audit.record(session, f"user:{who}", "auth.sign_in", who, address=address)
    session.commit()
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))


@router.get("/me", response_model=MeOut)
def me(caller: CallerDep) -> MeOut:
    return MeOut(subject=caller.subject, role=caller.role.value, town_id=caller.town_id)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, session: SessionDep, caller: AdminDep) -> UserOut:
    user = users.create_user(
        session,
        user_id=body.id,
        role=Role(body.role),
        town_id=body.town_id,
        display_name=body.display_name or "",
        password=body.password,
    )
    audit.record(session, caller, "user.create", body.id, role=body.role, town_id=body.town_id)
    session.commit()
    return _out(user)


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, caller: AdminDep) -> list[UserOut]:
    return [_out(u) for u in session.execute(select(User).order_by(User.id)).scalars()]


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(
    user_id: UserIdPath, body: UserPatch, session: SessionDep, caller: AdminDep
) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    changes = body.model_dump(exclude_unset=True)
    role = changes.get("role", user.role)
    town_id = changes.get("town_id", user.town_id)
    users.check_role(session, role=role, user_id=user.id, town_id=town_id)
    if "password" in changes and body.password is not None:
        user.password_hash = auth.hash_password(body.password)
    for name in ("role", "display_name", "town_id", "active"):
        if name in changes and (changes[name] is not None or name == "town_id"):
            setattr(user, name, changes[name])
    if {"role", "town_id", "password", "active"} & changes.keys():
        auth.revoke_tokens(session, user.id)  # old tokens carry the old rights
    audit.record(session, caller, "user.update", user.id, fields=sorted(changes))
    session.commit()
    return _out(user)
