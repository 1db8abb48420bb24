"""Fires due escalation steps and makes the daily digests — in any fleet instance.

Timers are rows. Each is claimed in its own transaction with
``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite serialises writers instead),
fired by a compare-and-set from pending to fired, and the step's deliveries and the
next timer are written in that same transaction: a step fires exactly once whichever
instance claims it, and a restart or a crashed instance loses none (an uncommitted
firing rolls back and the timer is still pending for the next instance to claim).
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from contract import transport
from fleet import clock
from fleet.alerts import digest, escalation
from fleet.db.models import EscalationTimer
from fleet.db.session import utcnow

log = logging.getLogger(__name__)

_BATCH = 100
_RETRY_BROKEN = timedelta(seconds=30)
_DIGEST_CHECK = timedelta(seconds=30)


class Escalator:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        instance: str,
        on_deliveries: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        poll_s: float = 1.0,
        digest_time: time = time(9, 0),
    ) -> None:
        self._sessions = sessions
        self._actor = f"fleet:{instance}"
        self._on_deliveries = on_deliveries
        self._clock = clock
        self._poll_s = poll_s
        self._digest_time = digest_time
        self._digest_checked: datetime | None = None
        self._next_due: datetime | None = None
        self.wake = asyncio.Event()
        self.fired = 0
        self.errors = 0

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                made = await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("escalation: tick failed; retrying")
                made = 0
            if made:
                self._on_deliveries()
            await transport.wait_event(self.wake, self._idle_wait())

    def _idle_wait(self) -> float:
        # Another instance may add a timer: look at least every poll (product time).
        poll = clock.poll_s(self._poll_s)
        if self._next_due is None:
            return poll
        seconds = (self._next_due - self._clock()).total_seconds()
        return clock.wait_s(seconds, cap_s=poll)

    def tick(self) -> int:
        """Fire every due step, make due digests; return the deliveries made."""
        now = self._clock()
        made = self.fire_due(now)
        if self._digest_checked is None or now - self._digest_checked >= _DIGEST_CHECK:
            self._digest_checked = now
            with self._sessions.begin() as session:
                made += digest.make_due(session, now, self._digest_time)
        with self._sessions() as session:
            self._next_due = session.execute(
                select(func.min(EscalationTimer.due_at)).where(EscalationTimer.status == "pending")
            ).scalar_one_or_none()
        return made

    def fire_due(self, now: datetime) -> int:
        made = 0
        for _ in range(_BATCH):
            timer_id: int | None = None
            try:
                with self._sessions.begin() as session:
                    timer_id = session.execute(
                        select(EscalationTimer.id)
                        .where(EscalationTimer.status == "pending", EscalationTimer.due_at <= now)
                        .order_by(EscalationTimer.due_at, EscalationTimer.id)
                        .limit(1)
                        .with_for_update(skip_locked=True)
                    ).scalar_one_or_none()
                    if timer_id is None:
                        break
                    result = escalation.fire_timer(session, timer_id, now, self._actor)
                if result is not None:
                    self.fired += 1
                    made += result
            except Exception:
                if timer_id is None:
                    raise
                # One broken timer must not block the others: try it again later.
                self.errors += 1
                log.exception("escalation: timer %d failed; retrying in 30 s", timer_id)
                with self._sessions.begin() as session:
                    session.execute(
                        update(EscalationTimer)
                        .where(EscalationTimer.id == timer_id)
                        .values(errors=EscalationTimer.errors + 1, due_at=now + _RETRY_BROKEN)
                    )
        return made
