"""Events in, alerts out: dedup, incidents, lifecycle.

An event id is stored once (primary key + insert-ignore). An event then opens an
alert, folds into the open alert of its incident, attaches to it as a follow-up, goes
into the caregivers' digest, or is only recorded (fleet.alerts.incidents decides).
A new alert snapshots its community's escalation policy and fires the policy's first
step in the same transaction, so its first deliveries exist when the event is
acknowledged to the gateway.

Lifecycle: open → notified (first delivery sent) → acknowledged → resolved (outcome
and note). Every transition is written to ``alert_log`` with its time and actor.

Every function takes a Session and the current time; the caller owns the transaction.
Locks are taken in one order everywhere — escalation timers, then the alert, then
deliveries — so concurrent acknowledgements, escalations and sends never deadlock.
"""

import dataclasses
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contract import Event, EventKind, Severity, event_id
from fleet.alerts import escalation, lifecycle
from fleet.alerts.incidents import (
    Action,
    FollowUpEffect,
    IncidentClass,
    dispose,
    episode,
    incident_key,
)
from fleet.alerts.lifecycle import AlertState, Step
from fleet.db.models import (
    OPEN_INCIDENT,
    Alert,
    CareLink,
    DigestEntry,
    EscalationTimer,
    EventRecord,
    Gateway,
    Resident,
    Wristband,
)
from fleet.db.upsert import insert_ignore
from fleet.dispatch import store as dispatch
from fleet.errors import Conflict, NotFound


class AlertError(Conflict):
    """An alert operation that cannot be done in the alert's state; the message says why."""


@dataclass(frozen=True, slots=True)
class Recorded:
    event_id: str
    new_event: bool  # False: a redelivery or another gateway's copy
    alert_id: int | None
    new_alert: bool
    disposition: str = "recorded"  # opened | folded | follow_up | digest | recorded
    deliveries: int = 0  # notification jobs created (wake the dispatcher)
    # The id was taken by an event of another time: stored under a derived id instead.
    id_collision: bool = False


@dataclass(frozen=True, slots=True)
class _Subject:
    resident_id: str | None
    community_id: str | None
    key: str  # resident id, or device:<mac> for a band nobody wears


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _subject(session: Session, device: str, flat: object = None) -> _Subject:
    """Whose alert: the wristband's wearer, or for a meter's event the resident of the
    flat the meter belongs to (events from meters name the flat in their evidence)."""
    band = session.get(Wristband, device)
    resident = session.get(Resident, band.resident_id) if band and band.resident_id else None
    if resident is None and band is None and isinstance(flat, str) and flat:
        resident = session.execute(
            select(Resident).where(Resident.flat == flat).order_by(Resident.id).limit(1)
        ).scalar_one_or_none()
    if resident is not None:
        return _Subject(resident.id, resident.community_id, resident.id)
    if band is None:
        gateway = session.get(Gateway, device)
        if gateway is not None:
            # A gateway's own alert (residents unprotected): its community's people.
            covered = [link.community_id for link in gateway.communities]
            return _Subject(None, covered[0] if covered else None, f"gateway:{device}")
    return _Subject(None, band.community_id if band else None, f"device:{device}")


# Copies of one event (redeliveries, other gateways that heard the same advert) carry
# the same occurred_at up to the gateways' clock skew; an event with a stored id but a
# time further off is another incident (a forged id sent ahead of time to pre-empt it,
# or a key the band reused after a reset) and must not vanish into the stored one.
ID_TOLERANCE_S = 600.0


def collision_id(event: Event, n: int) -> str:
    """The id of the ``n``-th other incident that came with ``event.id``: derived from
    that id, so copies of it (redeliveries, other gateways' reports with their clock
    skew) find the same record and fold into each other again."""
    return event_id(event.device, event.kind, f"{event.key}#collision-{n}")


def _far(record: EventRecord, event: Event, tolerance_s: float) -> bool:
    return abs(record.occurred_at.timestamp() - event.occurred_at) > tolerance_s


def record_event(
    session: Session,
    event: Event,
    now: datetime,
    *,
    instance: str = "fleet",
    id_tolerance_s: float = ID_TOLERANCE_S,
) -> Recorded:
    """Store an event once and let it open, fold into or follow up an alert."""
    existing = session.get(EventRecord, event.id)
    if existing is not None and _far(existing, event, id_tolerance_s):
        # The id is taken by another incident: the n-th such incident gets its own id;
        # a record of it near this event's time means this is a copy of that one.
        for n in itertools.count(1):
            candidate = msgspec.structs.replace(event, id=collision_id(event, n))
            other = session.get(EventRecord, candidate.id)
            if other is None or not _far(other, event, id_tolerance_s):
                recorded = record_event(
                    session, candidate, now, instance=instance, id_tolerance_s=float("inf")
                )
                return dataclasses.replace(recorded, id_collision=True)
    inserted = insert_ignore(
        session,
        EventRecord.__table__,  # type: ignore[arg-type]
        {
            "id": event.id,
            "kind": event.kind.value,
            "severity": event.severity.value,
            "device": event.device,
            "gateway": event.gateway,
            "occurred_at": _ts(event.occurred_at),
            "detected_at": _ts(event.detected_at),
            "received_at": now,
            "evidence": event.evidence,
            "notified_locally": event.notified_locally,
        },
        ["id"],
    )
    if not inserted:
        existing = session.get(EventRecord, event.id)
        return Recorded(
            event.id,
            False,
            existing.alert_id if existing else None,
            False,
            (existing.disposition or "recorded") if existing else "recorded",
        )
    subject = _subject(session, event.device, event.evidence.get("flat"))
    disposition = dispose(event.kind, event.severity)
    actor = f"gateway:{event.gateway}"
    incident = disposition.incident
    assert incident is not None
    key = incident_key(subject.key, incident, episode(incident, event.evidence))

    if disposition.action is Action.FOLLOW_UP:
        alert = _open_alert(session, key)
        if alert is not None:
            return _follow_up(session, event, alert, disposition.effect, now=now, actor=actor)
        if disposition.otherwise is Action.DIGEST:
            return _digest(session, event, subject, now)
        return _mark(session, event.id, None, "recorded")

    alert = _open_alert(session, key)
    if alert is not None:
        return _fold(session, event, alert, now, actor)
    if disposition.action is Action.DIGEST:
        return _digest(session, event, subject, now)
    if event.kind is EventKind.FALL and _cancelled_elsewhere(session, event):
        # Another gateway heard the resident cancel this very fall inside the window
        # (same band, same flag: the same key); this one missed the press. A near-miss.
        return _digest(session, event, subject, now)
    return _open(
        session, event, subject, incident=incident, key=key, now=now, actor=actor, instance=instance
    )


def _cancelled_elsewhere(session: Session, event: Event) -> bool:
    cancel = event_id(event.device, EventKind.FALL_CANCELLED, event.key)
    return session.get(EventRecord, cancel) is not None


def _open_alert(session: Session, key: str) -> Alert | None:
    """The unresolved alert of an incident, locked (FOR UPDATE on PostgreSQL)."""
    alert_id = session.execute(
        select(Alert.id).where(Alert.incident_key == key, OPEN_INCIDENT)
    ).scalar_one_or_none()
    if alert_id is None:
        return None
    return lock_alert(session, alert_id)


def lock_alert(session: Session, alert_id: int) -> Alert | None:
    """Lock an alert for a transition, after its pending timers (the lock order)."""
    session.execute(
        select(EscalationTimer.id)
        .where(EscalationTimer.alert_id == alert_id, EscalationTimer.status == "pending")
        .with_for_update()
    ).all()
    return session.get(Alert, alert_id, with_for_update=True, populate_existing=True)


def _mark(
    session: Session,
    event_id: str,
    alert_id: int | None,
    disposition: str,
    *,
    new_alert: bool = False,
    deliveries: int = 0,
) -> Recorded:
    session.execute(
        update(EventRecord)
        .where(EventRecord.id == event_id)
        .values(alert_id=alert_id, disposition=disposition)
    )
    return Recorded(event_id, True, alert_id, new_alert, disposition, deliveries)


def _open(
    session: Session,
    event: Event,
    subject: _Subject,
    *,
    incident: IncidentClass,
    key: str,
    now: datetime,
    actor: str,
    instance: str,
) -> Recorded:
    policy = escalation.policy_for(session, subject.community_id)
    inserted = insert_ignore(
        session,
        Alert.__table__,  # type: ignore[arg-type]
        {
            "event_id": event.id,
            "kind": event.kind.value,
            "severity": event.severity.value,
            "device": event.device,
            "resident_id": subject.resident_id,
            "community_id": subject.community_id,
            "incident_key": key,
            "incident": incident.value,
            "state": AlertState.OPEN.value,
            "opened_at": now,
            "policy": policy.to_json(),
        },
        ["incident_key"],
        where=OPEN_INCIDENT,
    )
    if not inserted:
        # Another fleet instance opened this incident a moment ago (its transaction
        # committed while ours waited on the unique index): fold into its alert.
        alert = _open_alert(session, key)
        if alert is None:  # resolved in between: a new incident after all
            return _open(
                session,
                event,
                subject,
                incident=incident,
                key=key,
                now=now,
                actor=actor,
                instance=instance,
            )
        return _fold(session, event, alert, now, actor)
    alert = session.execute(select(Alert).where(Alert.event_id == event.id)).scalar_one()
    lifecycle.record(
        session, alert.id, Step.OPENED, now, actor, event_id=event.id, kind=event.kind.value
    )
    deliveries = escalation.start(
        session, alert, policy, now, f"fleet:{instance}", notified_locally=event.notified_locally
    )
    # A critical alert is also a task; the policy's messages just queued are its offer.
    dispatch.open_task(session, alert, now, f"fleet:{instance}")
    return _mark(session, event.id, alert.id, "opened", new_alert=True, deliveries=deliveries)


def _fold(session: Session, event: Event, alert: Alert, now: datetime, actor: str) -> Recorded:
    """Another event of the same incident (a second SOS press, a fall during an SOS):
    one alert, the event on its timeline; escalation goes on as it was."""
    if event.severity.rank > Severity(alert.severity).rank:
        alert.severity = event.severity.value
        # A worry that became an emergency (no movement, then the gateway's critical
        # call) needs someone to go: it gets its task now if it had none.
        if dispatch.task_of_alert(session, alert.id) is None:
            dispatch.open_task(session, alert, now, actor)
    lifecycle.record(
        session,
        alert.id,
        Step.FOLDED,
        now,
        actor,
        event_id=event.id,
        kind=event.kind.value,
        severity=event.severity.value,
    )
    return _mark(session, event.id, alert.id, "folded")


def _follow_up(
    session: Session,
    event: Event,
    alert: Alert,
    effect: FollowUpEffect | None,
    *,
    now: datetime,
    actor: str,
) -> Recorded:
    lifecycle.record(
        session,
        alert.id,
        Step.FOLLOW_UP,
        now,
        actor,
        event_id=event.id,
        kind=event.kind.value,
        effect=(effect or FollowUpEffect.NOTE).value,
    )
    if effect is FollowUpEffect.RESOLVE and alert.resolved_at is None:
        _resolve(session, alert, actor=actor, outcome="resolved_by_resident", note="", now=now)
    elif effect is FollowUpEffect.STOP_ESCALATION:
        stop_escalation(session, alert, now, actor, reason=event.kind.value)
    return _mark(session, event.id, alert.id, "follow_up")


def _digest(session: Session, event: Event, subject: _Subject, now: datetime) -> Recorded:
    """Low-priority news for each of the resident's caregivers' next digest."""
    if subject.resident_id is None:
        return _mark(session, event.id, None, "recorded")
    caregivers = session.execute(
        select(CareLink.caregiver_id).where(CareLink.resident_id == subject.resident_id)
    ).scalars()
    for caregiver_id in caregivers:
        insert_ignore(
            session,
            DigestEntry.__table__,  # type: ignore[arg-type]
            {"caregiver_id": caregiver_id, "event_id": event.id, "created_at": now},
            ["caregiver_id", "event_id"],
        )
    return _mark(session, event.id, None, "digest")


def stop_escalation(
    session: Session, alert: Alert, now: datetime, actor: str, *, reason: str
) -> int:
    """Cancel the alert's pending escalation steps (the caller holds the alert's lock)."""
    result = session.execute(
        update(EscalationTimer)
        .where(EscalationTimer.alert_id == alert.id, EscalationTimer.status == "pending")
        .values(status="cancelled")
    )
    cancelled = int(getattr(result, "rowcount", 0) or 0)
    if cancelled:
        lifecycle.record(session, alert.id, Step.ESCALATION_STOPPED, now, actor, reason=reason)
    return cancelled


def activity_resumed(session: Session, alert_id: int, now: datetime, actor: str) -> bool:
    """The band moves again during an inactivity incident: noted once, escalation
    stopped; the alert stays open until a person resolves it."""
    alert = lock_alert(session, alert_id)
    if alert is None or alert.resolved_at is not None or alert.activity_resumed_at is not None:
        return False
    if alert.incident != IncidentClass.INACTIVITY.value:
        return False
    alert.activity_resumed_at = now
    lifecycle.record(
        session,
        alert.id,
        Step.FOLLOW_UP,
        now,
        actor,
        kind="activity_resumed",
        effect="stop_escalation",
    )
    stop_escalation(session, alert, now, actor, reason="activity_resumed")
    return True


def acknowledge(
    session: Session, alert_id: int, actor: str, now: datetime, *, via: str = "api"
) -> Alert:
    alert = lock_alert(session, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if not lifecycle.can_move(alert, AlertState.ACKNOWLEDGED):
        return alert  # acknowledging twice (or after resolving) is harmless
    lifecycle.move(alert, AlertState.ACKNOWLEDGED, now, actor)
    lifecycle.record(session, alert.id, Step.ACKNOWLEDGED, now, actor, via=via)
    stop_escalation(session, alert, now, actor, reason="acknowledged")
    dispatch.on_acknowledged(session, alert, actor, now)
    return alert


def resolve(
    session: Session, alert_id: int, *, actor: str, outcome: str, note: str, now: datetime
) -> Alert:
    alert = lock_alert(session, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if not lifecycle.can_move(alert, AlertState.RESOLVED):
        raise AlertError(f"alert {alert_id} is already resolved")
    return _resolve(session, alert, actor=actor, outcome=outcome, note=note, now=now)


def _resolve(
    session: Session, alert: Alert, *, actor: str, outcome: str, note: str, now: datetime
) -> Alert:
    if alert.acknowledged_at is None and not actor.startswith("gateway:"):
        # A person resolving an alert nobody acknowledged has answered it: for the
        # response-time figures it is acknowledged then. A resident's own "taken"
        # press is not a response.
        alert.acknowledged_at = now
        alert.acknowledged_by = actor
    lifecycle.move(alert, AlertState.RESOLVED, now, actor)
    alert.outcome = outcome
    alert.note = note
    lifecycle.record(session, alert.id, Step.RESOLVED, now, actor, outcome=outcome)
    stop_escalation(session, alert, now, actor, reason="resolved")
    dispatch.on_resolved(session, alert, now, actor)
    return alert
