"""Dispatch tasks in the registry: the row, the timeline lines, the messages.

The moves are fleet.dispatch.tasks's (pure); this module loads a row into a
:class:`~fleet.dispatch.tasks.Task`, applies a move, writes it back, records it on the
alert's timeline (through fleet.alerts.lifecycle) and queues what people must be told:

* the new owner: "the task is yours", with their check-in, outcome and "I can't go" links;
* everyone else the policy had reached when it was taken: "taken by …, no need to go";
* a previous owner after a reassignment: "passed to …".

Hooks the alert service calls (it must not import the dispatch actions, which call it):
:func:`open_task` when a critical alert opens, :func:`on_acknowledged` when someone
acknowledges, :func:`on_resolved` when the alert is resolved. The caller holds the
alert's lock; the task row is locked after it (timers → alert → task → deliveries).
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.alerts import lifecycle
from fleet.alerts.escalation import (
    alert_policy,
    channel_ref,
    channel_scheme,
    channel_urls,
    contacts_for,
)
from fleet.alerts.lifecycle import Step
from fleet.alerts.policy import GRID_WORKER
from fleet.db.models import Alert, Caregiver, Community, Delivery, DispatchTask
from fleet.dispatch import band_check, tasks
from fleet.dispatch.tasks import Done, Found, Location, Outcome, Task, TaskState

# Severities that make a task: someone must go there.
DISPATCHED = frozenset({"critical"})

# Why a task closed (close_reason).
CLOSED_WITH_OUTCOME = "outcome"
CLOSED_WITH_ALERT = "alert_resolved"


def load(row: DispatchTask) -> Task:
    outcome = None
    if row.found is not None:
        outcome = Outcome(
            Found(row.found), frozenset(Done(d) for d in row.done or ()), row.outcome_note or ""
        )
    location = None
    if row.on_site_latitude is not None and row.on_site_longitude is not None:
        location = Location(row.on_site_latitude, row.on_site_longitude)
    return Task(
        state=TaskState(row.state),
        owner=row.owner_id,
        declined=frozenset(row.declined or ()),
        accepted_at=row.accepted_at,
        on_the_way_at=row.on_the_way_at,
        on_site_at=row.on_site_at,
        location=location,
        outcome=outcome,
        outcome_at=row.outcome_at,
        closed_at=row.closed_at,
        close_reason=row.close_reason,
    )


def save(row: DispatchTask, task: Task) -> None:
    row.state = task.state.value
    row.owner_id = task.owner
    row.declined = sorted(task.declined)
    row.accepted_at = task.accepted_at
    row.on_the_way_at = task.on_the_way_at
    row.on_site_at = task.on_site_at
    row.on_site_latitude = task.location.latitude if task.location else None
    row.on_site_longitude = task.location.longitude if task.location else None
    row.outcome_at = task.outcome_at
    if task.outcome is not None:
        row.found = task.outcome.found.value
        row.done = sorted(d.value for d in task.outcome.done)
        row.outcome_note = task.outcome.note
    row.closed_at = task.closed_at
    row.close_reason = task.close_reason


def task_of_alert(session: Session, alert_id: int, *, lock: bool = True) -> DispatchTask | None:
    query = select(DispatchTask).where(DispatchTask.alert_id == alert_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def holder_name(session: Session, contact_id: str | None) -> str:
    """How a task's holder appears to other contacts: their registered name."""
    if contact_id is None:
        return "—"
    contact = session.get(Caregiver, contact_id)
    return contact.display_name if contact is not None else contact_id


def candidates(session: Session, alert: Alert) -> list[str]:
    """Who may hold the alert's task, in the order its policy calls them."""
    ordered: list[str] = []
    for step in alert_policy(alert).steps:
        for contact, _target in contacts_for(session, alert, step.targets):
            if contact.id not in ordered:
                ordered.append(contact.id)
    return ordered


def duty_line(session: Session, alert: Alert) -> str | None:
    community = session.get(Community, alert.community_id) if alert.community_id else None
    return community.duty_contact_id if community is not None else None


def default_owner(session: Session, alert: Alert) -> str | None:
    """Who holds a task acknowledged by health-center staff rather than a contact: the
    resident's grid worker, else the duty line, else the first person the policy calls."""
    workers = contacts_for(session, alert, (GRID_WORKER,))
    if workers:
        return workers[0][0].id
    line = duty_line(session, alert)
    if line is not None:
        return line
    ordered = candidates(session, alert)
    return ordered[0] if ordered else None


def open_task(session: Session, alert: Alert, now: datetime, actor: str) -> DispatchTask | None:
    """A new critical alert becomes an offered task (the policy's messages are the offer)."""
    if alert.severity not in DISPATCHED:
        return None
    return create(session, alert, now, actor)


def create(session: Session, alert: Alert, now: datetime, actor: str) -> DispatchTask:
    row = DispatchTask(
        alert_id=alert.id,
        resident_id=alert.resident_id,
        community_id=alert.community_id,
        kind=alert.kind,
        state=TaskState.OFFERED.value,
        declined=[],
        created_at=now,
    )
    session.add(row)
    session.flush()
    lifecycle.record(session, alert.id, Step.TASK_OFFERED, now, actor, task_id=row.id)
    return row


def contact_of(session: Session, actor: str) -> str | None:
    """The contact id an actor names (``contact:<id>`` from a link, ``caregiver:<id>``
    from a caregiver's sign-in), if such a contact is registered."""
    if not actor.startswith(("contact:", "caregiver:")):
        return None
    contact_id = actor.split(":", 1)[1]
    return contact_id if session.get(Caregiver, contact_id) is not None else None


def on_acknowledged(session: Session, alert: Alert, actor: str, now: datetime) -> None:
    """Acknowledging is taking the task: a contact takes it themselves; staff in the
    console hand it to the resident's grid worker (or the duty line)."""
    row = task_of_alert(session, alert.id)
    if row is None or row.state != TaskState.OFFERED.value:
        return
    contact = contact_of(session, actor)
    if contact is not None:
        apply_accept(session, alert, row, contact, now=now, actor=actor, via="acknowledge")
        return
    owner = default_owner(session, alert)
    if owner is not None:
        apply_assign(session, alert, row, owner, now=now, actor=actor)


def on_resolved(session: Session, alert: Alert, now: datetime, actor: str) -> None:
    row = task_of_alert(session, alert.id)
    if row is not None and row.state != TaskState.CLOSED.value:
        close_task(session, alert, row, now, actor)
    # What was found feeds back: a second false alarm in a week asks for a band check.
    band_check.after_resolved(session, alert, now)


def close_task(
    session: Session, alert: Alert, row: DispatchTask, now: datetime, actor: str
) -> None:
    reason = CLOSED_WITH_OUTCOME if row.state == TaskState.OUTCOME.value else CLOSED_WITH_ALERT
    save(row, tasks.close(load(row), now, reason))
    lifecycle.record(session, alert.id, Step.TASK_CLOSED, now, actor, task_id=row.id, reason=reason)


def apply_accept(
    session: Session,
    alert: Alert,
    row: DispatchTask,
    contact: str,
    *,
    now: datetime,
    actor: str,
    via: str,
) -> None:
    before = load(row)
    after = tasks.accept(before, contact, now)
    if after is before:
        return
    save(row, after)
    lifecycle.record(
        session, alert.id, Step.TASK_ACCEPTED, now, actor, task_id=row.id, owner=contact, via=via
    )
    notify(session, row, contact, "assigned", now)
    for other in offered_to(session, alert.id):
        if other != contact:
            notify(session, row, other, "taken", now)


def apply_assign(
    session: Session, alert: Alert, row: DispatchTask, contact: str, *, now: datetime, actor: str
) -> None:
    before = load(row)
    after = tasks.assign(before, contact, now)
    if after is before:
        return
    save(row, after)
    step = Step.TASK_ACCEPTED if before.owner is None else Step.TASK_REASSIGNED
    lifecycle.record(
        session,
        alert.id,
        step,
        now,
        actor,
        task_id=row.id,
        owner=contact,
        previous=before.owner,
        via="assign",
    )
    notify(session, row, contact, "assigned", now)
    if before.owner is not None:
        notify(session, row, before.owner, "moved", now)
    else:
        for other in offered_to(session, alert.id):
            if other != contact:
                notify(session, row, other, "taken", now)


def offered_to(session: Session, alert_id: int) -> list[str]:
    """Everyone the alert's escalation has queued a message for so far."""
    return list(
        session.execute(
            select(Delivery.caregiver_id)
            .where(Delivery.alert_id == alert_id)
            .distinct()
            .order_by(Delivery.caregiver_id)
        ).scalars()
    )


def notify(
    session: Session, row: DispatchTask, contact_id: str, purpose: str, now: datetime
) -> int:
    """Queue a task message for a contact, one delivery per channel (the dispatcher
    renders it: fleet.notify.task_templates)."""
    contact = session.get(Caregiver, contact_id)
    if contact is None:
        return 0
    urls = channel_urls(contact)
    for url in urls:
        session.add(
            Delivery(
                alert_id=None,
                task_id=row.id,
                purpose=purpose,
                caregiver_id=contact.id,
                channel_ref=channel_ref(url),
                channel_scheme=channel_scheme(url),
                target="task",
                status="pending",
                attempts=0,
                due_at=now,
                created_at=now,
            )
        )
    lifecycle.record(
        session,
        row.alert_id,
        Step.TASK_NOTICE,
        now,
        "fleet",
        task_id=row.id,
        contact=contact.id,
        purpose=purpose,
        channels=len(urls),
    )
    return len(urls)
