"""Sends pending deliveries: claims due jobs in the database, sends, records the result.

Jobs are rows (``deliveries``), claimed with a lease (``claimed_by``/``claimed_until``)
under ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several fleet instances share the
work, each job is sent by one of them, and a crashed instance's jobs are picked up
when its lease runs out. A failed send is retried with exponential backoff.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from fleet.db.models import Alert, AlertLog, Caregiver, Delivery, Resident
from fleet.db.session import utcnow
from fleet.notify import sender, templates

log = logging.getLogger(__name__)

_LEASE = timedelta(seconds=60)
_CLAIM_BATCH = 50
_IDLE_POLL_S = 1.0

SendFn = Callable[[list[str], str, str], Awaitable[sender.SendResult]]


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    alert_id: int
    attempts: int
    urls: list[str]
    message: templates.AlertMessage


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        instance: str,
        public_url: str,
        attempts: int = 5,
        retry_s: float = 5.0,
        send: SendFn = sender.send,
        clock: Callable[[], datetime] = utcnow,
        ack_link: Callable[[int, str], str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._instance = instance
        self._public_url = public_url
        self._attempts = attempts
        self._retry_s = retry_s
        self._send = send
        self._clock = clock
        self._ack_link = ack_link or (lambda alert_id, _cg: f"{public_url}/alerts/{alert_id}")
        self.wake = asyncio.Event()
        self.sent = 0
        self.failed = 0

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                jobs = await asyncio.to_thread(self._claim)
            except Exception:
                log.exception("notify: could not claim jobs; retrying")
                jobs = []
            if jobs:
                await asyncio.gather(*(self._deliver(job) for job in jobs))
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation
            # that arrives as the event is set, and shutdown then waits for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_IDLE_POLL_S):
                    await self.wake.wait()

    def _claim(self) -> list[Job]:
        now = self._clock()
        with self._sessions.begin() as session:
            rows = (
                session.execute(
                    select(Delivery)
                    .where(
                        Delivery.status == "pending",
                        Delivery.due_at <= now,
                        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
                    )
                    .order_by(Delivery.due_at)
                    .limit(_CLAIM_BATCH)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            jobs = []
            for delivery in rows:
                delivery.claimed_by = self._instance
                delivery.claimed_until = now + _LEASE
                jobs.append(self._job(session, delivery))
            return jobs

    def _job(self, session: Session, delivery: Delivery) -> Job:
        alert = session.get_one(Alert, delivery.alert_id)
        caregiver = session.get_one(Caregiver, delivery.caregiver_id)
        resident = session.get(Resident, alert.resident_id) if alert.resident_id else None
        message = templates.render(
            locale=caregiver.locale,
            kind=alert.kind,
            resident_name=resident.display_name if resident else alert.device,
            address=resident.address if resident else "",
            opened_at=alert.opened_at,
            ack_url=self._ack_link(alert.id, caregiver.id),
        )
        urls = [line.strip() for line in caregiver.channels.splitlines() if line.strip()]
        return Job(delivery.id, alert.id, delivery.attempts, urls, message)

    async def _deliver(self, job: Job) -> None:
        started = time.monotonic()
        try:
            result = await self._send(job.urls, job.message.title, job.message.body)
        except Exception as exc:  # a broken channel plugin must not stop the dispatcher
            log.exception("notify: sending delivery %d raised", job.delivery_id)
            result = sender.SendResult(False, f"{type(exc).__name__}")
        elapsed_ms = (time.monotonic() - started) * 1000
        await asyncio.to_thread(self._record, job, result, elapsed_ms)

    def _record(self, job: Job, result: sender.SendResult, elapsed_ms: float) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            delivery = session.get_one(Delivery, job.delivery_id, with_for_update=True)
            delivery.attempts += 1
            delivery.claimed_by = None
            delivery.claimed_until = None
            if result.ok:
                delivery.status = "sent"
                delivery.sent_at = now
                delivery.latency_ms = elapsed_ms
                alert = session.get_one(Alert, job.alert_id, with_for_update=True)
                if alert.state == "open":
                    alert.state = "notified"
                if alert.notified_at is None:
                    alert.notified_at = now
                self.sent += 1
            else:
                delivery.last_error = result.error
                if delivery.attempts >= self._attempts:
                    delivery.status = "failed"
                else:
                    backoff = self._retry_s * 2 ** (delivery.attempts - 1)
                    delivery.due_at = now + timedelta(seconds=backoff)
                self.failed += 1
            session.add(
                AlertLog(
                    alert_id=job.alert_id,
                    at=now,
                    actor=f"fleet:{self._instance}",
                    action="delivered" if result.ok else "delivery_failed",
                    detail={
                        "delivery_id": job.delivery_id,
                        "caregiver_id": delivery.caregiver_id,
                        "attempt": delivery.attempts,
                        "error": result.error,
                    },
                )
            )
        log.info(
            "notify: delivery %d for alert %d %s (attempt %d)",
            job.delivery_id,
            job.alert_id,
            "sent" if result.ok else "failed",
            job.attempts + 1,
        )
