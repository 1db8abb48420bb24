"""Dependencies shared by the routes: the database session, the caller, the fleet."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from fleet import auth
from fleet.auth import Caller, Role
from fleet.db.session import utcnow
from fleet.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from fleet.main import Fleet

__all__ = ["AdminDep", "Caller", "CallerDep", "FleetDep", "SessionDep", "StaffDep"]

_bearer = HTTPBearer(auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_fleet(request: Request) -> "Fleet":
    fleet: Fleet = request.app.state.fleet
    return fleet


FleetDep = Annotated["Fleet", Depends(get_fleet)]


def get_caller(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "a bearer token is required: sign in at /api/v1/auth/token, or print one with "
            "'silverguard fleet token --role admin'"
        )
    return auth.resolve_caller(session, credentials.credentials, utcnow())


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_staff(caller: CallerDep) -> Caller:
    if caller.role not in (Role.ADMIN, Role.STAFF):
        raise Forbidden("health-center staff or admin only")
    if caller.role is Role.STAFF and caller.town_id is None:
        raise Forbidden(
            "this staff account has no town; an admin must assign one (PATCH /api/v1/users/...)"
        )
    return caller


StaffDep = Annotated[Caller, Depends(require_staff)]


def require_admin(caller: CallerDep) -> Caller:
    if caller.role is not Role.ADMIN:
        raise Forbidden("admin only")
    return caller


AdminDep = Annotated[Caller, Depends(require_admin)]
