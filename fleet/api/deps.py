"""Dependencies shared by the routes: the database session, the caller, and the few
parts of the fleet a route may use — each by itself (the composition root puts them
on ``app.state``), so a route's signature says what it touches."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from fleet import auth
from fleet.auth import Caller, Role
from fleet.db.session import utcnow
from fleet.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from fleet.alerts.ack_link import LinkSigner
    from fleet.dispatch.task_link import TaskLinkSigner
    from fleet.ingest.gateway_state import LiveGateways
    from fleet.notify.channel_policy import ChannelPolicy
    from fleet.provisioning.dynsec import Dynsec
    from fleet.provisioning.publisher import ConfigPublisher
    from fleet.registry.vault import Vault
    from fleet.settings import FleetSettings
    from fleet.sign_in_throttle import SignInThrottle
    from fleet.timeseries.battery_cache import BatteryCache
    from fleet.timeseries.influx import InfluxWriter

__all__ = [
    "AdminDep",
    "BatteryDep",
    "Caller",
    "CallerDep",
    "ChannelPolicyDep",
    "DynsecDep",
    "InfluxDep",
    "LinksDep",
    "LiveGatewaysDep",
    "PublisherDep",
    "SessionDep",
    "SessionsDep",
    "SettingsDep",
    "StaffDep",
    "TaskLinksDep",
    "ThrottleDep",
    "VaultDep",
]

_bearer = HTTPBearer(auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _part(name: str) -> Any:
    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    get.__name__ = f"get_{name}"
    return Depends(get)


# For routes that work in a thread (asyncio.to_thread) with a session of their own.
SessionsDep = Annotated["sessionmaker[Session]", _part("sessions")]
SettingsDep = Annotated["FleetSettings", _part("settings")]
PublisherDep = Annotated["ConfigPublisher", _part("publisher")]
VaultDep = Annotated["Vault", _part("vault")]
LinksDep = Annotated["LinkSigner", _part("links")]
TaskLinksDep = Annotated["TaskLinkSigner", _part("task_links")]
InfluxDep = Annotated["InfluxWriter", _part("influx")]
BatteryDep = Annotated["BatteryCache", _part("battery")]
DynsecDep = Annotated["Dynsec", _part("dynsec")]
LiveGatewaysDep = Annotated["LiveGateways", _part("live_gateways")]
ThrottleDep = Annotated["SignInThrottle", _part("sign_in_throttle")]
ChannelPolicyDep = Annotated["ChannelPolicy", _part("channel_policy")]


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
