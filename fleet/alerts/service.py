"""Events in, alerts out: dedup, lifecycle, and the notification jobs an alert starts.

Every function takes a Session and the current time; the caller owns the transaction.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet.db.models import Alert, AlertLog, CareLink, Delivery, EventRecord, Wristband
from fleet.db.upsert import insert_ignore
from silverguard.wire import Event, Severity

# Severities that open an alert and call a human; LOW events are only recorded.
ALERTING = {Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM}


class AlertError(Exception):
    """An alert operation that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class Recorded:
    event_id: str
    new_event: bool  # False: a redelivery or another gateway's copy
    alert_id: int | None
    new_alert: bool


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def record_event(session: Session, event: Event, now: datetime) -> Recorded:
    """Store an event once; open an alert (and its notification jobs) if it calls for one."""
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
        return Recorded(event.id, False, existing.alert_id if existing else None, False)
    if event.severity not in ALERTING:
        return Recorded(event.id, True, None, False)

    band = session.get(Wristband, event.device)
    resident_id = band.resident_id if band is not None else None
    alert = Alert(
        event_id=event.id,
        kind=event.kind.value,
        severity=event.severity.value,
        device=event.device,
        resident_id=resident_id,
        state="open",
        opened_at=now,
    )
    session.add(alert)
    session.flush()
    session.execute(update(EventRecord).where(EventRecord.id == event.id).values(alert_id=alert.id))
    session.add(
        AlertLog(
            alert_id=alert.id,
            at=now,
            actor=f"gateway:{event.gateway}",
            action="opened",
            detail={"event_id": event.id, "kind": event.kind.value},
        )
    )
    caregivers = (
        session.execute(
            select(CareLink.caregiver_id)
            .where(CareLink.resident_id == resident_id)
            .order_by(CareLink.priority)
        )
        .scalars()
        .all()
        if resident_id
        else []
    )
    for caregiver_id in caregivers:
        session.add(
            Delivery(
                alert_id=alert.id,
                caregiver_id=caregiver_id,
                status="pending",
                due_at=now,
                created_at=now,
            )
        )
    if not caregivers:
        session.add(
            AlertLog(
                alert_id=alert.id,
                at=now,
                actor="fleet",
                action="no_contact",
                detail={"reason": "no caregiver registered for this wristband's resident"},
            )
        )
    return Recorded(event.id, True, alert.id, True)


def acknowledge(session: Session, alert_id: int, actor: str, now: datetime) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertError(f"alert {alert_id} does not exist")
    if alert.state in ("acknowledged", "resolved"):
        return alert  # acknowledging twice is harmless
    alert.state = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = actor
    session.add(AlertLog(alert_id=alert.id, at=now, actor=actor, action="acknowledged", detail={}))
    return alert


def resolve(
    session: Session, alert_id: int, *, actor: str, outcome: str, note: str, now: datetime
) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertError(f"alert {alert_id} does not exist")
    if alert.state == "resolved":
        raise AlertError(f"alert {alert_id} is already resolved")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = actor
    alert.state = "resolved"
    alert.resolved_at = now
    alert.outcome = outcome
    alert.note = note
    session.add(
        AlertLog(
            alert_id=alert.id, at=now, actor=actor, action="resolved", detail={"outcome": outcome}
        )
    )
    return alert
