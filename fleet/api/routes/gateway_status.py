"""Gateways as the console shows them: online or not, last heartbeat, outbox backlog,
desired versus reported config — for staff (their town's gateways) and admins.

Online state comes from the retained ``status`` topic (its last will says ``offline``),
which every fleet instance receives. Heartbeats arrive through a shared subscription,
so one instance sees only some of them; the last heartbeat is therefore the newer of
what this instance heard and the last ``gateway_health`` point in InfluxDB, which every
instance writes to.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fleet.api.deps import InfluxDep, LiveGatewaysDep, SessionsDep, StaffDep
from fleet.api.paging import ListQueryDep, csv_response, page_items
from fleet.api.schemas import OpaqueId, SetAsideOut
from fleet.auth import Caller, Role
from fleet.db.models import Gateway
from fleet.db.session import utcnow
from fleet.ingest.gateway_state import LiveGateway
from fleet.registry import scope
from fleet.timeseries import history
from fleet.timeseries.influx import InfluxError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/gateway-status", tags=["gateways"])

# A gateway beats every 30 s; six missed beats mean it is hung or its link is, even
# though the broker has not (yet) published its last will.
HEARTBEAT_LATE = timedelta(minutes=3)

Connection = Literal["online", "silent", "offline", "unknown"]


def connection(status: str | None, heartbeat_at: datetime | None, now: datetime) -> Connection:
    """online: says so and beats; silent: says online but no recent beat; offline: its
    status (or last will) says offline; unknown: nothing heard since this fleet started."""
    if status == "offline":
        return "offline"
    if status != "online":
        return "unknown"
    if heartbeat_at is None or now - heartbeat_at > HEARTBEAT_LATE:
        return "silent"
    return "online"


class GatewayStatusOut(BaseModel):
    id: str
    registered: bool = Field(description="false: heard on the broker, not in the registry")
    location: str
    state: str | None = Field(description="registry state: created | enrolled | revoked")
    communities: list[str]
    connection: Connection
    status: str | None = Field(description="the retained status: online | offline")
    status_at: datetime | None
    software_version: str | None
    heartbeat_at: datetime | None
    uptime_s: float | None
    outbox_events: int | None = Field(description="events waiting on the gateway")
    outbox_telemetry: int | None = Field(description="telemetry batches waiting")
    figures: dict[str, Any] = Field(description="the last heartbeat's figures")
    desired_version: int | None
    reported_version: int | None
    reported_ok: bool | None
    reported_error: str | None
    reported_set_aside: list[SetAsideOut] = Field(
        default_factory=list, description="parts of its config the gateway set aside"
    )
    config_in_sync: bool | None


def _registry(sessions: SessionsDep, caller: Caller) -> list[dict[str, Any]]:
    with sessions() as session:
        rows = session.execute(
            select(Gateway)
            .where(scope.gateways(caller))
            .options(selectinload(Gateway.communities))
            .order_by(Gateway.id)
        ).scalars()
        return [
            {
                "id": g.id,
                "location": g.location,
                "state": g.state,
                "communities": [link.community_id for link in g.communities],
                "desired_version": g.desired_version,
                "reported_version": g.reported_version,
                "reported_ok": g.reported_ok,
                "reported_error": g.reported_error,
                "reported_set_aside": g.reported_set_aside or [],
                "config_in_sync": g.reported_version == g.desired_version,
            }
            for g in rows
        ]


def _at(ts: Any) -> datetime | None:
    return datetime.fromtimestamp(float(ts), UTC) if isinstance(ts, int | float) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_CONNECTION_RANK = {"offline": 0, "silent": 1, "unknown": 2, "online": 3}
GATEWAY_SORTS: dict[str, Callable[[GatewayStatusOut], Any]] = {
    "id": lambda g: g.id,
    "connection": lambda g: (_CONNECTION_RANK[g.connection], g.id),
    "heartbeat": lambda g: (g.heartbeat_at, g.id),
    "location": lambda g: (g.location, g.id),
    "backlog": lambda g: (g.outbox_events, g.id),
}
GATEWAY_CSV = (
    "id",
    "location",
    "communities",
    "connection",
    "heartbeat_at",
    "outbox_events",
    "outbox_telemetry",
    "desired_version",
    "reported_version",
    "software_version",
)


@router.get("", response_model=list[GatewayStatusOut])
async def gateway_status(
    *,
    caller: StaffDep,
    sessions: SessionsDep,
    influx: InfluxDep,
    live_gateways: LiveGatewaysDep,
    response: Response,
    params: ListQueryDep,
    community_id: Annotated[OpaqueId | None, Query()] = None,
    connection_state: Annotated[
        Connection | None, Query(alias="connection", description="only gateways in this state")
    ] = None,
) -> list[GatewayStatusOut] | Response:
    """The caller's gateways with their live state, by id; paged (``X-Total-Count``);
    ``q`` searches id and location; ``format=csv`` exports the list."""
    rows = await _statuses(caller, sessions, influx, live_gateways)
    text = (params.search or "").lower()
    matching = [
        g
        for g in rows
        if (community_id is None or community_id in g.communities)
        and (connection_state is None or g.connection == connection_state)
        and (not text or text in g.id.lower() or text in g.location.lower())
    ]
    page = page_items(matching, params, response, sorts=GATEWAY_SORTS, default_sort="id")
    if not params.csv:
        return page
    return csv_response(
        "gateways.csv",
        GATEWAY_CSV,
        (
            (
                g.id,
                g.location,
                " ".join(g.communities),
                g.connection,
                g.heartbeat_at.isoformat() if g.heartbeat_at else "",
                g.outbox_events,
                g.outbox_telemetry,
                g.desired_version,
                g.reported_version,
                g.software_version,
            )
            for g in page
        ),
    )


async def _statuses(
    caller: Caller, sessions: SessionsDep, influx: InfluxDep, live_gateways: LiveGatewaysDep
) -> list[GatewayStatusOut]:
    registry = await asyncio.to_thread(_registry, sessions, caller)
    now = utcnow()
    try:
        stored = await history.heartbeats(influx, now)
    except InfluxError as exc:
        log.warning("gateway status: heartbeats from this instance only: %s", exc)
        stored = {}
    heard = live_gateways.snapshot()
    rows = {row["id"]: row for row in registry}
    if caller.role is Role.ADMIN:
        # A gateway on the broker that nobody registered (a test rig, or one whose
        # registry entry was removed) is still worth seeing.
        for gateway_id in sorted(heard.keys() - rows.keys()):
            rows[gateway_id] = {"id": gateway_id, "registered": False}
    out = []
    for gateway_id, row in rows.items():
        live = heard.get(gateway_id, LiveGateway())
        heartbeat_at = _at(live.health_ts)
        figures: dict[str, Any] = dict(live.figures)
        uptime = live.uptime_s
        if gateway_id in stored and (heartbeat_at is None or stored[gateway_id][0] > heartbeat_at):
            heartbeat_at, figures = stored[gateway_id][0], dict(stored[gateway_id][1])
            uptime = figures.pop("uptime_s", None)
        status = live.state
        out.append(
            GatewayStatusOut(
                id=gateway_id,
                registered=row.get("registered", True),
                location=row.get("location", ""),
                state=row.get("state"),
                communities=row.get("communities", []),
                connection=connection(status, heartbeat_at, now),
                status=status,
                status_at=_at(live.status_ts),
                software_version=live.version or None,
                heartbeat_at=heartbeat_at,
                uptime_s=float(uptime) if isinstance(uptime, int | float) else None,
                outbox_events=_int(figures.get("outbox_events")),
                outbox_telemetry=_int(figures.get("outbox_telemetry")),
                figures=figures,
                desired_version=row.get("desired_version"),
                reported_version=row.get("reported_version"),
                reported_ok=row.get("reported_ok"),
                reported_error=row.get("reported_error"),
                reported_set_aside=[SetAsideOut(**p) for p in row.get("reported_set_aside", [])],
                config_in_sync=row.get("config_in_sync"),
            )
        )
    return out
