"""Sends pending deliveries: claims due jobs in the database, sends, records the result.

Jobs are rows (``deliveries``), one per contact and channel, claimed with a lease
(``claimed_by``/``claimed_until``) under ``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so several fleet instances share the work, each job is sent by one of them, and a
crashed instance's jobs are picked up when its lease runs out. A failed send is
retried with exponential backoff. Sends run as independent tasks (up to
``max_in_flight``), so a slow or failing channel never holds up the next claim.

An alert's job still pending when the alert is acknowledged or resolved is
cancelled at claim time instead of sent.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from contract import transport
from fleet import clock
from fleet.alerts import lifecycle
from fleet.alerts.ack_link import LinkSigner
from fleet.alerts.escalation import channel_ref, channel_urls
from fleet.alerts.lifecycle import AlertState, Step
from fleet.db.models import (
    Alert,
    Caregiver,
    Community,
    Delivery,
    Digest,
    DigestEntry,
    DispatchTask,
    EventRecord,
    Resident,
    Wristband,
)
from fleet.db.session import utcnow
from fleet.dispatch.task_link import TaskAction, TaskLinkSigner
from fleet.notify import sender, task_templates, templates

log = logging.getLogger(__name__)

# A send (apprise's own timeouts are a few seconds per request) ends well inside it.
# Real seconds: a send takes network time, so with the simulated clock at 300x the
# lease is 5 simulated hours. (A lease of 60 product seconds, 0.2 s of wall time, let
# a second pass claim a delivery while its message was still on the way.)
_LEASE_S = 60.0
_CLAIM_BATCH = 50
_IDLE_POLL_S = 1.0
_BACKOFF_MAX_S = 600.0

SendFn = Callable[[str, str, str], Awaitable[sender.SendResult]]


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    alert_id: int | None
    caregiver_id: str
    scheme: str
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
        links: LinkSigner,
        attempts: int = 5,
        retry_s: float = 5.0,
        send: SendFn = sender.send,
        clock: Callable[[], datetime] = utcnow,
        max_in_flight: int = 64,
        task_links: TaskLinkSigner | None = None,
    ) -> None:
        self._task_links = task_links
        self._sessions = sessions
        self._instance = instance
        self._actor = f"fleet:{instance}"
        self._public_url = public_url
        self._links = links
        self._attempts = attempts
        self._retry_s = retry_s
        self._send = send
        self._clock = clock
        self._max_in_flight = max_in_flight
        self._in_flight: set[asyncio.Task[None]] = set()
        self._next_due: datetime | None = None
        self.wake = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self.cancelled = 0

    def ack_url(self, alert_id: int, caregiver_id: str, now: datetime) -> str:
        return f"{self._public_url}/ack/{self._links.token(alert_id, caregiver_id, now)}"

    async def run(self) -> None:
        try:
            while True:
                self.wake.clear()
                room = self._max_in_flight - len(self._in_flight)
                jobs: list[Job] = []
                if room > 0:
                    try:
                        jobs = await asyncio.to_thread(self._claim, min(room, _CLAIM_BATCH))
                    except Exception:
                        log.exception("notify: could not claim jobs; retrying")
                for job in jobs:
                    task = asyncio.create_task(self._deliver(job))
                    self._in_flight.add(task)
                    task.add_done_callback(self._done)
                if jobs and len(jobs) == min(room, _CLAIM_BATCH):
                    continue  # there may be more due right now
                await transport.wait_event(self.wake, self._idle_wait())
        finally:
            for task in list(self._in_flight):
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)
            # Shutting down: hand the jobs we claimed but did not finish to the other
            # instances now rather than when their lease runs out.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._release)

    def _release(self) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.claimed_by == self._instance, Delivery.status == "pending")
                .values(claimed_by=None, claimed_until=None)
            )

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self.wake.set()  # room for more, and its retry may be due soon

    def _idle_wait(self) -> float:
        poll = clock.poll_s(_IDLE_POLL_S)
        if self._next_due is None:
            return poll
        seconds = (self._next_due - self._clock()).total_seconds()
        return clock.wait_s(seconds, cap_s=poll)

    def _claim(self, limit: int) -> list[Job]:
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
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            jobs = []
            for delivery in rows:
                job = self._job(session, delivery, now)
                if job is None:
                    continue
                delivery.claimed_by = self._instance
                delivery.claimed_until = now + timedelta(seconds=clock.product_s(_LEASE_S))
                jobs.append(job)
            self._next_due = session.execute(
                select(func.min(Delivery.due_at)).where(
                    Delivery.status == "pending", Delivery.due_at > now
                )
            ).scalar_one_or_none()
            return jobs

    def _job(self, session: Session, delivery: Delivery, now: datetime) -> Job | None:
        caregiver = session.get_one(Caregiver, delivery.caregiver_id)
        all_urls = channel_urls(caregiver)
        if delivery.channel_ref is None:
            urls = all_urls  # a delivery made before channels had rows of their own
        else:
            urls = [u for u in all_urls if channel_ref(u) == delivery.channel_ref]
        if delivery.task_id is not None:
            task = session.get_one(DispatchTask, delivery.task_id)
            if delivery.purpose == "assigned" and (
                task.closed_at is not None or task.owner_id != caregiver.id
            ):
                self._finish(session, delivery, "cancelled", now, "the task moved on")
                return None
            message = self._task_message(session, task, caregiver, delivery.purpose or "", now)
        elif delivery.alert_id is not None:
            alert = session.get_one(Alert, delivery.alert_id)
            if alert.acknowledged_at is not None or alert.resolved_at is not None:
                self._finish(session, delivery, "cancelled", now, "alert already acknowledged")
                return None
            message = self._alert_message(session, alert, caregiver, delivery, now)
        elif delivery.digest_id is not None:
            message = self._digest_message(session, delivery.digest_id, caregiver)
        else:  # pragma: no cover - the schema makes every delivery one or the other
            self._finish(session, delivery, "failed", now, "delivery has no alert or digest")
            return None
        if not urls:
            self._finish(session, delivery, "failed", now, "the contact's channel was removed")
            return None
        return Job(
            delivery.id,
            delivery.alert_id,
            caregiver.id,
            delivery.channel_scheme or "?",
            delivery.attempts,
            urls,
            message,
        )

    def _finish(
        self, session: Session, delivery: Delivery, status: str, now: datetime, why: str
    ) -> None:
        delivery.status = status
        delivery.last_error = None if status == "cancelled" else why
        if status == "cancelled":
            self.cancelled += 1
        if delivery.alert_id is not None:
            lifecycle.record(
                session,
                delivery.alert_id,
                Step.DELIVERY_CANCELLED if status == "cancelled" else Step.DELIVERY_FAILED,
                now,
                self._actor,
                delivery_id=delivery.id,
                contact=delivery.caregiver_id,
                channel=delivery.channel_scheme,
                reason=why,
            )

    def _alert_message(
        self,
        session: Session,
        alert: Alert,
        caregiver: Caregiver,
        delivery: Delivery,
        now: datetime,
    ) -> templates.AlertMessage:
        resident = session.get(Resident, alert.resident_id) if alert.resident_id else None
        community = session.get(Community, alert.community_id) if alert.community_id else None
        follow_ups = session.execute(
            select(EventRecord.kind, EventRecord.detected_at)
            .where(EventRecord.alert_id == alert.id, EventRecord.id != alert.event_id)
            .order_by(EventRecord.detected_at)
            .limit(5)
        ).all()
        notes = [templates.FollowUp(kind, at) for kind, at in follow_ups]
        if alert.activity_resumed_at is not None:
            notes.append(templates.FollowUp("activity_resumed", alert.activity_resumed_at))
        return templates.render(
            locale=caregiver.locale,
            kind=alert.kind,
            resident_name=resident.display_name if resident else alert.device,
            address=resident.address if resident else "",
            community=community.name if community else "",
            opened_at=alert.opened_at,
            ack_url=self.ack_url(alert.id, caregiver.id, now),
            escalated=bool(delivery.round or delivery.step),
            role=delivery.target or "",
            follow_ups=tuple(notes),
        )

    def task_url(self, task_id: int, contact_id: str, action: TaskAction, now: datetime) -> str:
        assert self._task_links is not None
        return f"{self._public_url}/task/{self._task_links.token(task_id, contact_id, action, now)}"

    def _task_message(
        self,
        session: Session,
        task: DispatchTask,
        caregiver: Caregiver,
        purpose: str,
        now: datetime,
    ) -> templates.AlertMessage:
        resident = session.get(Resident, task.resident_id) if task.resident_id else None
        community = session.get(Community, task.community_id) if task.community_id else None
        where = " ".join(
            p
            for p in (community.name if community else "", resident.address if resident else "")
            if p
        )
        holder = session.get(Caregiver, task.owner_id) if task.owner_id else None
        links = None
        if purpose == "assigned" and self._task_links is not None:
            links = task_templates.TaskLinks(
                check_in=self.task_url(task.id, caregiver.id, TaskAction.CHECK_IN, now),
                outcome=self.task_url(task.id, caregiver.id, TaskAction.OUTCOME, now),
                decline=self.task_url(task.id, caregiver.id, TaskAction.DECLINE, now),
            )
        return task_templates.render_task(
            locale=caregiver.locale,
            purpose=purpose,
            kind=task.kind,
            resident_name=resident.display_name if resident else "?",
            where=where,
            holder=holder.display_name if holder else "—",
            links=links,
        )

    def _digest_message(
        self, session: Session, digest_id: int, caregiver: Caregiver
    ) -> templates.AlertMessage:
        digest = session.get_one(Digest, digest_id)
        rows = session.execute(
            select(EventRecord.kind, EventRecord.detected_at, Resident.display_name)
            .select_from(DigestEntry)
            .join(EventRecord, EventRecord.id == DigestEntry.event_id)
            .outerjoin(Wristband, Wristband.mac == EventRecord.device)
            .outerjoin(Resident, Resident.id == Wristband.resident_id)
            .where(DigestEntry.digest_id == digest_id)
            .order_by(EventRecord.detected_at)
        ).all()
        items = [templates.DigestItem(name or "?", kind, at) for kind, at, name in rows]
        return templates.render_digest(locale=caregiver.locale, day=digest.day, items=items)

    async def _deliver(self, job: Job) -> None:
        started = time.monotonic()
        results: list[sender.SendResult] = []
        for url in job.urls:
            try:
                results.append(await self._send(url, job.message.title, job.message.body))
            except Exception as exc:  # a broken channel plugin must not stop the dispatcher
                log.error("notify: delivery %d raised %s", job.delivery_id, type(exc).__name__)
                results.append(sender.SendResult(False, type(exc).__name__))
        ok = all(r.ok for r in results)
        error = "" if ok else next(r.error for r in results if not r.ok)
        elapsed_ms = (time.monotonic() - started) * 1000
        try:
            await asyncio.to_thread(self._record, job, sender.SendResult(ok, error), elapsed_ms)
        except Exception:
            # The lease runs out and the job is sent again: at least once, never lost.
            log.exception("notify: could not record delivery %d", job.delivery_id)

    def _record(self, job: Job, result: sender.SendResult, elapsed_ms: float) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            delivery = session.get_one(Delivery, job.delivery_id, with_for_update=True)
            delivery.attempts += 1
            delivery.claimed_by = None
            delivery.claimed_until = None
            gave_up = False
            if result.ok:
                delivery.status = "sent"
                delivery.sent_at = now
                delivery.latency_ms = elapsed_ms
                self.sent += 1
            else:
                delivery.last_error = result.error
                if delivery.attempts >= self._attempts:
                    delivery.status = "failed"
                    gave_up = True
                else:
                    backoff = min(self._retry_s * 2 ** (delivery.attempts - 1), _BACKOFF_MAX_S)
                    delivery.due_at = now + timedelta(seconds=backoff)
                self.failed += 1
            if job.alert_id is None:
                return
            # The alert is locked before anything referring to it is written: a
            # foreign-key insert takes a share lock on it, and taking the alert's lock
            # after that could deadlock with an acknowledgement (timers, then alert).
            alert = session.get_one(Alert, job.alert_id, with_for_update=True)
            lifecycle.record(
                session,
                job.alert_id,
                Step.DELIVERED if result.ok else Step.DELIVERY_FAILED,
                now,
                self._actor,
                delivery_id=job.delivery_id,
                contact=job.caregiver_id,
                channel=job.scheme,
                round=delivery.round,
                step=delivery.step,
                attempt=delivery.attempts,
                error=result.error,
                retry_at=None if result.ok or gave_up else delivery.due_at.isoformat(),
            )
            if result.ok:
                if alert.notified_at is None:
                    alert.notified_at = now  # the first message, even after an acknowledgement
                if lifecycle.state_of(alert) is AlertState.OPEN:
                    lifecycle.move(alert, AlertState.NOTIFIED, now, self._actor)
                    lifecycle.record(
                        session,
                        alert.id,
                        Step.NOTIFIED,
                        now,
                        self._actor,
                        contact=job.caregiver_id,
                        channel=job.scheme,
                    )
        log.info(
            "notify: delivery %d (%s) for %s %s, attempt %d",
            job.delivery_id,
            job.scheme,
            f"alert {job.alert_id}" if job.alert_id is not None else "digest",
            "sent" if result.ok else "failed",
            job.attempts + 1,
        )
