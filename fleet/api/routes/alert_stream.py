"""New and changed alerts, pushed to the console as server-sent events.

``GET /api/v1/alerts/stream`` (``text/event-stream``) sends one ``alert`` event for
each entry of the alerts' log the caller may see: an alert opened, escalated,
acknowledged, resolved … with the alert's state as it is now. The event id is the
log entry's id, so a browser that reconnects with ``Last-Event-ID`` misses nothing;
a keep-alive comment goes out every 15 s (FastAPI's own SSE support).

Any fleet instance may write an alert (the ingest runs on several behind a shared
subscription), so the stream does not listen to this process: it reads the log's
new entries from the database, once a second per open console, with an indexed
query (``alert_log.id > last``). The console reads the stream with ``fetch`` and its
bearer token — never a token in a URL — and falls back to polling while it is down.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from fleet import clock
from fleet.api.deps import CallerDep, SessionsDep
from fleet.auth import Caller
from fleet.db.models import Alert, AlertLog, Resident
from fleet.registry import scope

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

POLL_S = 1.0  # product seconds between two looks at the log
BATCH = 200  # log entries per look, at most


class AlertChange(BaseModel):
    log_id: int
    action: str
    alert_id: int
    state: str
    severity: str
    kind: str
    resident_id: str | None
    resident_name: str | None
    community_id: str | None


def _last_id(sessions: "sessionmaker[Session]") -> int:
    with sessions() as session:
        return int(session.execute(select(func.max(AlertLog.id))).scalar_one() or 0)


def _changes(sessions: "sessionmaker[Session]", caller: Caller, after: int) -> list[AlertChange]:
    with sessions() as session:
        rows = session.execute(
            select(AlertLog.id, AlertLog.action, Alert, Resident.display_name)
            .join(Alert, Alert.id == AlertLog.alert_id)
            .outerjoin(Resident, Resident.id == Alert.resident_id)
            .where(AlertLog.id > after, scope.alerts(caller))
            .order_by(AlertLog.id)
            .limit(BATCH)
        ).all()
        return [
            AlertChange(
                log_id=log_id,
                action=action,
                alert_id=alert.id,
                state=alert.state,
                severity=alert.severity,
                kind=alert.kind,
                resident_id=alert.resident_id,
                resident_name=name,
                community_id=alert.community_id,
            )
            for log_id, action, alert, name in rows
        ]


@router.get("/stream", response_class=EventSourceResponse)
async def alert_stream(
    caller: CallerDep,
    sessions: SessionsDep,
    last_event_id: Annotated[int | None, Header(ge=0, le=2**63 - 1)] = None,
) -> AsyncIterator[ServerSentEvent]:
    last = (
        last_event_id if last_event_id is not None else await asyncio.to_thread(_last_id, sessions)
    )
    # Tell the browser how long to wait before reconnecting, and that it is live.
    yield ServerSentEvent(event="ready", data={"last": last}, retry=3000)
    while True:
        changes = await asyncio.to_thread(_changes, sessions, caller, last)
        for change in changes:
            last = change.log_id
            yield ServerSentEvent(event="alert", id=str(change.log_id), data=change)
        if len(changes) < BATCH:
            await asyncio.sleep(clock.poll_s(POLL_S))
