"""Parking refused messages, and telling staff which gateway misbehaves.

A refused message is kept whole in ``dead_letters`` with its topic's gateway, its
cause and the reason in words; the same payload again (a redelivery) only counts up.
Staff get a "gateway misbehaving" notice (``gateway_notices``) once per gateway,
cause and hour — a unique row per hour, so several fleet instances make one.

A gateway flooding the fleet with bad messages must not turn into a database flood:
each gateway may park ``budget_per_minute`` messages a minute; beyond that they are
only counted (``over_budget``) until the next minute. Those messages were refused
either way; what is lost is their copy, never a valid message.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from fleet.db.models import DeadLetter, GatewayNotice
from fleet.db.session import utcnow
from fleet.db.upsert import insert_ignore
from fleet.ingest.refusals import EXPLANATIONS, Cause

log = logging.getLogger(__name__)

# A telemetry batch of 2,000 readings is ~250 kB: kept whole up to the contract's bound.
_MAX_KEPT_BYTES = 256 * 1024


@dataclass(slots=True)
class _Budget:
    minute: int
    used: int = 0


def notice_text(gateway: str, cause: Cause, detail: str) -> str:
    return f"Gateway {gateway} {EXPLANATIONS[cause]}. First refused: {detail[:500]}"


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


class DeadLetters:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        budget_per_minute: int = 120,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._budget_per_minute = budget_per_minute
        self._clock = clock
        self._budgets: dict[str, _Budget] = {}
        self.parked = 0
        self.over_budget = 0
        self.failed = 0

    def may_park(self, gateway: str) -> bool:
        """Take one from the gateway's budget for this minute; False when it is spent."""
        minute = int(self._clock() // 60)
        budget = self._budgets.get(gateway)
        if budget is None or budget.minute != minute:
            budget = self._budgets[gateway] = _Budget(minute)
        if budget.used >= self._budget_per_minute:
            self.over_budget += 1
            return False
        budget.used += 1
        return True

    def park(
        self, topic: str, gateway: str | None, payload: bytes, cause: Cause, error: str
    ) -> bool:
        """Keep the message and tell staff (blocking: call from a worker thread).

        True when it is stored; False when the database would not take it (logged).
        """
        now = utcnow()
        try:
            with self._sessions.begin() as session:
                _store(
                    session,
                    topic=topic,
                    gateway=gateway,
                    payload=payload,
                    cause=cause,
                    error=error,
                    now=now,
                )
                if gateway is not None:
                    _notice(session, gateway, cause, error, now)
        except Exception:
            self.failed += 1
            log.exception("ingest: could not park a refused message from %s", gateway)
            return False
        self.parked += 1
        return True


def _store(
    session: Session,
    *,
    topic: str,
    gateway: str | None,
    payload: bytes,
    cause: Cause,
    error: str,
    now: datetime,
) -> None:
    digest = hashlib.sha256(payload).hexdigest()
    inserted = insert_ignore(
        session,
        DeadLetter.__table__,  # type: ignore[arg-type]
        {
            "topic": topic[:200],
            "payload": payload[:_MAX_KEPT_BYTES],
            "payload_sha256": digest,
            "error": error[:2000],
            "received_at": now,
            "gateway": gateway[:63] if gateway else None,
            "cause": cause.value,
            "times": 1,
            "last_received_at": now,
        },
        ["topic", "payload_sha256"],
    )
    if not inserted:
        session.execute(
            update(DeadLetter)
            .where(DeadLetter.topic == topic[:200], DeadLetter.payload_sha256 == digest)
            .values(times=DeadLetter.times + 1, last_received_at=now)
        )


def _notice(session: Session, gateway: str, cause: Cause, detail: str, now: datetime) -> None:
    hour = _hour(now)
    inserted = insert_ignore(
        session,
        GatewayNotice.__table__,  # type: ignore[arg-type]
        {
            "gateway_id": gateway,
            "cause": cause.value,
            "hour": hour,
            "first_at": now,
            "last_at": now,
            "refusals": 1,
            "message": notice_text(gateway, cause, detail),
        },
        ["gateway_id", "cause", "hour"],
    )
    if inserted:
        log.warning("ingest: notice for staff: %s", notice_text(gateway, cause, detail)[:400])
        return
    session.execute(
        update(GatewayNotice)
        .where(
            GatewayNotice.gateway_id == gateway,
            GatewayNotice.cause == cause.value,
            GatewayNotice.hour == hour,
        )
        .values(refusals=GatewayNotice.refusals + 1, last_at=now)
    )
