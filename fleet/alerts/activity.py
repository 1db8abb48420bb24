""" "Moving again": telemetry that ends an inactivity incident's escalation.

The gateways report each band's ``moving`` flag in their telemetry. While an
inactivity alert is open for a band, a reading with ``moving = true`` is a follow-up:
it is written on the alert's timeline once and the alert's further escalation steps
are cancelled (fleet.alerts.service.activity_resumed); the alert stays open for a
person to resolve. The set of bands to watch is re-read from the database every few
seconds, so this holds with any number of fleet instances — the decision itself is
a locked, once-only update in the database.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contract import Reading
from fleet import clock
from fleet.alerts import service
from fleet.alerts.incidents import IncidentClass
from fleet.db.models import Alert
from fleet.db.session import utcnow

log = logging.getLogger(__name__)


class ActivityWatch:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        instance: str,
        refresh_s: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._actor = f"fleet:{instance}"
        self._refresh_s = refresh_s
        self._clock = clock
        self._watched: dict[str, int] = {}  # band MAC -> open inactivity alert id
        self._pending: set[asyncio.Task[None]] = set()
        self.resumed = 0

    def watched(self) -> dict[str, int]:
        return dict(self._watched)

    def refresh(self) -> None:
        with self._sessions() as session:
            rows = session.execute(
                select(Alert.device, Alert.id).where(
                    Alert.incident == IncidentClass.INACTIVITY.value,
                    Alert.resolved_at.is_(None),
                    Alert.activity_resumed_at.is_(None),
                )
            ).all()
        self._watched = dict(rows)

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:
                log.exception("activity watch: could not refresh; retrying")
            await asyncio.sleep(clock.poll_s(self._refresh_s))

    def on_readings(self, readings: list[Reading]) -> None:
        """Called for each telemetry batch kept; cheap when nothing is watched."""
        if not self._watched:
            return
        for reading in readings:
            alert_id = self._watched.get(reading.device)
            if alert_id is not None and reading.fields.get("moving") is True:
                del self._watched[reading.device]
                task = asyncio.get_running_loop().create_task(self._resume(alert_id))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    async def _resume(self, alert_id: int) -> None:
        try:
            if await asyncio.to_thread(self.resume, alert_id):
                self.resumed += 1
        except Exception:
            log.exception("activity watch: could not note movement on alert %d", alert_id)

    def resume(self, alert_id: int) -> bool:
        with self._sessions.begin() as session:
            return service.activity_resumed(session, alert_id, self._clock(), self._actor)
