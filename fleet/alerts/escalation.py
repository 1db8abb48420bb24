"""Escalation steps: who a step reaches, the deliveries it makes, the next timer.

A step of an alert's policy fires once: the alert's first step inside the transaction
that opens it, every later one from an ``escalation_timers`` row that any fleet
instance may claim (fleet.alerts.escalator). Firing a step makes one delivery per
contact and channel, records the step on the alert's timeline and schedules the next
step as a new timer row (unique per alert, round and step).

If a step reaches nobody (no grid worker registered, a contact without channels),
the next step of the same round is due at once rather than after its delay: an alert
never waits in silence for a step that called no one.
"""

import hashlib
import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet.alerts import lifecycle
from fleet.alerts.lifecycle import AlertState, Step
from fleet.alerts.policy import (
    CAREGIVERS,
    CONTACT_PREFIX,
    DEFAULT_POLICY,
    DUTY_LINE,
    GRID_WORKER,
    EscalationPolicy,
    PolicyError,
    Position,
)
from fleet.db.models import (
    Alert,
    Caregiver,
    CareLink,
    Community,
    Delivery,
    EscalationPolicyRow,
    EscalationTimer,
    Grid,
    Resident,
)
from fleet.db.upsert import insert_ignore

log = logging.getLogger(__name__)


def channel_urls(caregiver: Caregiver) -> list[str]:
    return [line.strip() for line in caregiver.channels.splitlines() if line.strip()]


def channel_ref(url: str) -> str:
    """A fingerprint naming a channel without storing its URL (a secret) twice."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def channel_scheme(url: str) -> str:
    """``sms``, ``wecombot``, ``ntfy`` ...: safe to show and log (no token, no number)."""
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    return scheme.lower()[:20]


def policy_for(session: Session, community_id: str | None) -> EscalationPolicy:
    if community_id is None:
        return DEFAULT_POLICY
    row = session.get(EscalationPolicyRow, community_id)
    if row is None:
        return DEFAULT_POLICY
    return EscalationPolicy.from_json({"steps": row.steps, "repeat_every_s": row.repeat_every_s})


def alert_policy(alert: Alert) -> EscalationPolicy:
    if not alert.policy:
        return DEFAULT_POLICY
    try:
        return EscalationPolicy.from_json(alert.policy)
    except PolicyError:
        log.error("alert %d: stored policy unreadable; using the default", alert.id)
        return DEFAULT_POLICY


def contacts_for(
    session: Session, alert: Alert, targets: tuple[str, ...]
) -> list[tuple[Caregiver, str]]:
    """The contacts a step's targets name for this alert, each once, in order."""
    resident = session.get(Resident, alert.resident_id) if alert.resident_id else None
    found: dict[str, tuple[Caregiver, str]] = {}
    for target in targets:
        ids: list[str] = []
        if target == CAREGIVERS and resident is not None:
            ids = list(
                session.execute(
                    select(CareLink.caregiver_id)
                    .where(CareLink.resident_id == resident.id)
                    .order_by(CareLink.priority, CareLink.caregiver_id)
                ).scalars()
            )
        elif target == GRID_WORKER and resident is not None and resident.grid_id:
            grid = session.get(Grid, resident.grid_id)
            ids = [grid.worker_id] if grid is not None and grid.worker_id else []
        elif target == DUTY_LINE and alert.community_id:
            community = session.get(Community, alert.community_id)
            if community is not None and community.duty_contact_id:
                ids = [community.duty_contact_id]
        elif target.startswith(CONTACT_PREFIX):
            ids = [target[len(CONTACT_PREFIX) :]]
        for caregiver_id in ids:
            if caregiver_id in found:
                continue
            caregiver = session.get(Caregiver, caregiver_id)
            if caregiver is not None:
                found[caregiver_id] = (caregiver, target)
    return list(found.values())


def start(
    session: Session,
    alert: Alert,
    policy: EscalationPolicy,
    now: datetime,
    actor: str,
    *,
    notified_locally: bool = False,
) -> int:
    """Fire the first step of a new alert now; return the deliveries made.

    ``notified_locally``: the gateway, cut off from the fleet, already texted the
    resident's caregivers from its own modem. If the first step is exactly those
    caregivers, it counts as done — they are not sent the same news again — and the
    escalation goes on from there if nobody acknowledges.
    """
    first = Position(0, 0)
    session.add(
        EscalationTimer(
            alert_id=alert.id,
            round=0,
            step=0,
            due_at=now,
            status="fired",
            fired_at=now,
            fired_by=actor,
            errors=0,
        )
    )
    if notified_locally and policy.steps[0].targets == (CAREGIVERS,):
        alert.escalation_round, alert.escalation_step = 0, 0
        if lifecycle.can_move(alert, AlertState.NOTIFIED):
            lifecycle.move(alert, AlertState.NOTIFIED, now, actor)
        lifecycle.record(
            session,
            alert.id,
            Step.NOTIFIED_LOCALLY,
            now,
            actor,
            step=0,
            reason="the gateway texted the caregivers while offline",
        )
        _schedule_next(session, alert, policy, first, now, reached_nobody=False)
        return 0
    return fire_step(session, alert, policy, first, now=now, actor=actor)


def fire_timer(session: Session, timer_id: int, now: datetime, actor: str) -> int | None:
    """Fire a pending timer the caller has locked; None if it was not ours to fire.

    The switch from pending to fired is a compare-and-set in this transaction, so
    even without row locks (SQLite) two instances cannot both fire one step.
    """
    claimed = session.execute(
        update(EscalationTimer)
        .where(EscalationTimer.id == timer_id, EscalationTimer.status == "pending")
        .values(status="fired", fired_at=now, fired_by=actor[:60])
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return None
    timer = session.get_one(EscalationTimer, timer_id, populate_existing=True)
    alert = session.get_one(Alert, timer.alert_id, with_for_update=True, populate_existing=True)
    if alert.acknowledged_at is not None or alert.resolved_at is not None:
        timer.status = "cancelled"
        return 0
    if alert.activity_resumed_at is not None and alert.incident == "inactivity":
        timer.status = "cancelled"
        return 0
    position = Position(timer.round, timer.step)
    return fire_step(session, alert, alert_policy(alert), position, now=now, actor=actor)


def fire_step(
    session: Session,
    alert: Alert,
    policy: EscalationPolicy,
    position: Position,
    *,
    now: datetime,
    actor: str,
) -> int:
    step = policy.steps[position.step]
    contacts = contacts_for(session, alert, step.targets)
    made = 0
    reached: list[dict[str, object]] = []
    for caregiver, target in contacts:
        urls = channel_urls(caregiver)
        for url in urls:
            made += insert_ignore(
                session,
                Delivery.__table__,  # type: ignore[arg-type]
                {
                    "alert_id": alert.id,
                    "caregiver_id": caregiver.id,
                    "round": position.round,
                    "step": position.step,
                    "channel_ref": channel_ref(url),
                    "channel_scheme": channel_scheme(url),
                    "target": target[:50],
                    "status": "pending",
                    "attempts": 0,
                    "due_at": now,
                    "created_at": now,
                },
                ["alert_id", "round", "step", "caregiver_id", "channel_ref"],
            )
        reached.append({"contact": caregiver.id, "as": target, "channels": len(urls)})
    alert.escalation_round = position.round
    alert.escalation_step = position.step
    lifecycle.record(
        session,
        alert.id,
        Step.ESCALATED,
        now,
        actor,
        round=position.round,
        step=position.step,
        targets=list(step.targets),
        contacts=reached,
        deliveries=made,
    )
    if made == 0:
        lifecycle.record(
            session,
            alert.id,
            Step.NO_CONTACT,
            now,
            actor,
            round=position.round,
            step=position.step,
            reason="nobody with a channel is registered for " + ", ".join(step.targets),
        )
        log.warning(
            "alert %d: escalation step %d/%d reached nobody",
            alert.id,
            position.round,
            position.step,
        )
    _schedule_next(session, alert, policy, position, now, reached_nobody=made == 0)
    return made


def _schedule_next(
    session: Session,
    alert: Alert,
    policy: EscalationPolicy,
    position: Position,
    now: datetime,
    *,
    reached_nobody: bool,
) -> None:
    following = policy.following(position)
    same_round = following.round == position.round
    if reached_nobody and same_round:
        due = now
    else:
        following = policy.catch_up(alert.opened_at, following, now)
        due = max(policy.due_at(alert.opened_at, following), now)
    insert_ignore(
        session,
        EscalationTimer.__table__,  # type: ignore[arg-type]
        {
            "alert_id": alert.id,
            "round": following.round,
            "step": following.step,
            "due_at": due,
            "status": "pending",
            "errors": 0,
        },
        ["alert_id", "round", "step"],
    )
