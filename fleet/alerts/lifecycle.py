"""An alert's lifecycle, owned here: its states, the moves between them, its timeline.

    open ──▶ notified ──▶ acknowledged ──▶ resolved
      │          │                            ▲
      └──────────┴────────────────────────────┘   (resolve is allowed from any state)

Every state change goes through :func:`move` (which refuses a move the lifecycle does
not allow, and stamps the moment it happened), and every line of an alert's timeline
through :func:`record` with a :class:`Step` — so the console's timeline and the SLA's
timestamps can only say what this module lets them say. Who calls (ingest, the
dispatcher, the escalator, the API) decides *when*; this module decides *how*.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from fleet.db.models import Alert, AlertLog
from fleet.errors import Conflict


class AlertState(StrEnum):
    OPEN = "open"  # raised, nobody told yet
    NOTIFIED = "notified"  # at least one contact got a message
    ACKNOWLEDGED = "acknowledged"  # someone took it on
    RESOLVED = "resolved"  # closed with an outcome


_NEXT: dict[AlertState, frozenset[AlertState]] = {
    AlertState.OPEN: frozenset({AlertState.NOTIFIED, AlertState.ACKNOWLEDGED, AlertState.RESOLVED}),
    AlertState.NOTIFIED: frozenset({AlertState.ACKNOWLEDGED, AlertState.RESOLVED}),
    AlertState.ACKNOWLEDGED: frozenset({AlertState.RESOLVED}),
    AlertState.RESOLVED: frozenset(),
}


class Step(StrEnum):
    """What a line of an alert's timeline says happened."""

    OPENED = "opened"
    FOLDED = "folded"  # another event of the same incident
    FOLLOW_UP = "follow_up"  # an event that changes the incident (cancelled, taken ...)
    ESCALATED = "escalated"  # an escalation step fired: who is being contacted
    NO_CONTACT = "no_contact"  # ... and reached nobody
    NOTIFIED = "notified"  # the first message arrived
    NOTIFIED_LOCALLY = "notified_locally"  # the gateway texted while offline
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERY_CANCELLED = "delivery_cancelled"
    ESCALATION_STOPPED = "escalation_stopped"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    # The alert's dispatch task (fleet.dispatch.tasks: its own states, told here).
    TASK_OFFERED = "task_offered"
    TASK_ACCEPTED = "task_accepted"  # someone took it (detail: owner, via)
    TASK_DECLINED = "task_declined"  # "I can't go" (detail: who, passed to)
    TASK_REASSIGNED = "task_reassigned"  # staff gave it to someone else
    TASK_ON_THE_WAY = "task_on_the_way"
    TASK_ON_SITE = "task_on_site"  # checked in (detail: whether a location came)
    TASK_OUTCOME = "task_outcome"  # what was found and done
    TASK_CLOSED = "task_closed"
    TASK_NOTICE = "task_notice"  # a message about the task queued for a contact


class LifecycleError(Conflict):
    """A move the lifecycle does not allow."""


def state_of(alert: Alert) -> AlertState:
    return AlertState(alert.state)


def can_move(alert: Alert, to: AlertState) -> bool:
    return to in _NEXT[state_of(alert)]


def move(alert: Alert, to: AlertState, now: datetime, actor: str) -> None:
    """Change the alert's state and stamp when (and by whom, where it is kept)."""
    if not can_move(alert, to):
        raise LifecycleError(f"alert {alert.id} cannot go from {alert.state} to {to}")
    if to is AlertState.NOTIFIED:
        alert.notified_at = alert.notified_at or now
    elif to is AlertState.ACKNOWLEDGED:
        alert.acknowledged_at, alert.acknowledged_by = now, actor
    elif to is AlertState.RESOLVED:
        alert.resolved_at, alert.resolved_by = now, actor
    alert.state = to.value


def record(
    session: Session, alert_id: int, what: Step, now: datetime, actor: str, /, **detail: object
) -> None:
    """One line of the alert's timeline. ``detail`` names things (ids, counts, reasons),
    never secrets: no channel URLs, no phone numbers."""
    session.add(AlertLog(alert_id=alert_id, at=now, actor=actor, action=what.value, detail=detail))
