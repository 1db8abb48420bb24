"""The "residents unprotected" alerts, raised and resolved: the pure judgement is
``fleet.coverage.CoverageWatch``; this loop records what it decides through the alert
path every gateway event takes. Every instance watches; the events' ids fold them into
one alert."""

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from contract import Event
from fleet import clock
from fleet.alerts.service import Recorded, record_event
from fleet.coverage import CoverageWatch
from fleet.db.models import Gateway
from fleet.db.session import utcnow

log = logging.getLogger(__name__)

POLL_S = 2.0


class CoverageAlerts:
    def __init__(
        self,
        watch: CoverageWatch,
        sessions: sessionmaker[Session],
        *,
        instance: str,
        on_alert: Callable[[Recorded], None],
    ) -> None:
        self.watch = watch
        self._sessions = sessions
        self._instance = instance
        self._on_alert = on_alert

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(clock.poll_s(POLL_S))

    async def check(self) -> None:
        for event in self.watch.due(clock.now()):
            try:
                recorded = await asyncio.to_thread(self._record, event)
            except Exception:
                log.exception("coverage: could not record %s for %s", event.kind, event.gateway)
                continue
            if recorded is not None and (recorded.new_alert or recorded.deliveries):
                self._on_alert(recorded)

    def _record(self, event: Event) -> Recorded | None:
        with self._sessions.begin() as session:
            gateway = session.get(Gateway, event.gateway)
            if gateway is None or gateway.state == "revoked":
                return None  # unknown, or taken out of service on purpose
            return record_event(session, event, utcnow(), instance=self._instance)
