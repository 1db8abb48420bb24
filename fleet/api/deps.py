"""Dependencies shared by the routes: the database session and the caller."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from fleet import auth
from fleet.auth import Role

_bearer = HTTPBearer(auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    role: Role


def get_caller(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is required (silverguard fleet token --role admin prints one)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = auth.lookup(session, credentials.credentials)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked token", {"WWW-Authenticate": "Bearer"}
        )
    return Caller(token.subject, Role(token.role))


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_staff(caller: CallerDep) -> Caller:
    if caller.role not in (Role.ADMIN, Role.STAFF):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "health-center staff or admin only")
    return caller


StaffDep = Annotated[Caller, Depends(require_staff)]
