"""The day's risk tags, computed by the fleet itself: once an hour (product time) the
current local day is evaluated again, so a new day's tags exist within the hour after
midnight and the day's events and reports show by the evening. An evaluation of a day
is idempotent (fleet.risk.daily), so several fleet instances may each run it."""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from contract import transport
from fleet import clock
from fleet.db.session import utcnow
from fleet.risk import daily

log = logging.getLogger(__name__)

EVERY_S = 3600.0


class RiskDaily:
    def __init__(
        self, sessions: "sessionmaker[Session]", *, now: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = sessions
        self._now = now
        self.wake = asyncio.Event()
        self.runs = 0
        self.last: daily.DayResult | None = None

    def tick(self) -> daily.DayResult:
        day = self._now().astimezone(clock.zone()).date()
        with self._sessions.begin() as session:
            result = daily.evaluate_day(session, day)
        self.runs += 1
        self.last = result
        return result

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                result = await asyncio.to_thread(self.tick)
                log.info(
                    "risk: %s evaluated: %d tags (%d new, %d ended) over %d residents",
                    result.day,
                    result.tags,
                    result.started,
                    result.ended,
                    result.residents,
                )
            except Exception:
                log.exception("risk: the day's evaluation failed; retrying within the hour")
            await transport.wait_event(self.wake, clock.poll_s(EVERY_S))
