"""What people do with a task: staff assign it; its owner sets off, checks in, records
the outcome or says "I can't go". Each takes the alert's lock first, then the task's
(the lock order), and the caller commits.

Recording the outcome resolves the alert through the alert service, whose hook closes
the task: the alert's lifecycle stays the only writer of alert states.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from fleet.alerts import lifecycle, service
from fleet.alerts.lifecycle import Step
from fleet.db.models import Alert, Caregiver, DispatchTask
from fleet.dispatch import store, tasks
from fleet.dispatch.tasks import Location, Outcome
from fleet.errors import NotFound


def _locked(session: Session, task_id: int) -> tuple[Alert, DispatchTask]:
    row = session.get(DispatchTask, task_id)
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    alert = service.lock_alert(session, row.alert_id)
    locked = store.task_of_alert(session, row.alert_id)
    if alert is None or locked is None:  # pragma: no cover - rows are never deleted
        raise NotFound(f"task {task_id} does not exist")
    return alert, locked


def assign(
    session: Session, alert_id: int, contact_id: str, actor: str, now: datetime
) -> DispatchTask:
    """Staff send someone (first assignment or reassignment). An alert without a task
    (not critical, or raised before dispatch existed) gets one. Assigning acknowledges
    the alert: someone is on it, the policy stops calling."""
    alert = service.lock_alert(session, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if session.get(Caregiver, contact_id) is None:
        raise NotFound(f"contact {contact_id} does not exist")
    row = store.task_of_alert(session, alert_id)
    if row is None:
        if alert.resolved_at is not None:
            raise tasks.TaskError(f"alert {alert_id} is resolved; there is nothing to dispatch")
        row = store.create(session, alert, now, actor)
    store.apply_assign(session, alert, row, contact_id, now=now, actor=actor)
    service.acknowledge(session, alert_id, actor, now, via="assign")
    return row


def set_off(session: Session, task_id: int, who: str, now: datetime) -> DispatchTask:
    alert, row = _locked(session, task_id)
    before = store.load(row)
    after = tasks.set_off(before, who, now)
    if after is not before:
        store.save(row, after)
        lifecycle.record(
            session, alert.id, Step.TASK_ON_THE_WAY, now, f"contact:{who}", task_id=row.id
        )
    return row


def check_in(
    session: Session, task_id: int, who: str, now: datetime, location: Location | None = None
) -> DispatchTask:
    alert, row = _locked(session, task_id)
    before = store.load(row)
    after = tasks.check_in(before, who, now, location)
    if after is not before:
        store.save(row, after)
        lifecycle.record(
            session,
            alert.id,
            Step.TASK_ON_SITE,
            now,
            f"contact:{who}",
            task_id=row.id,
            located=location is not None,
        )
    return row


def record_outcome(
    session: Session, task_id: int, who: str, outcome: Outcome, now: datetime
) -> DispatchTask:
    alert, row = _locked(session, task_id)
    store.save(row, tasks.record_outcome(store.load(row), who, outcome, now))
    actor = f"contact:{who}"
    lifecycle.record(
        session,
        alert.id,
        Step.TASK_OUTCOME,
        now,
        actor,
        task_id=row.id,
        found=outcome.found.value,
        done=sorted(d.value for d in outcome.done),
    )
    if alert.resolved_at is None:
        service.resolve(
            session,
            alert.id,
            actor=actor,
            outcome=outcome.alert_outcome,
            note=outcome.note,
            now=now,
        )
    else:  # resolved meanwhile (the console): the outcome still closes the task
        store.on_resolved(session, alert, now, actor)
    return row


def decline(session: Session, task_id: int, who: str, now: datetime) -> DispatchTask:
    """ "I can't go": the task passes at once to the next person (or the duty line)."""
    alert, row = _locked(session, task_id)
    before = store.load(row)
    after = tasks.decline(
        before, who, store.candidates(session, alert), store.duty_line(session, alert), now
    )
    store.save(row, after)
    lifecycle.record(
        session,
        alert.id,
        Step.TASK_DECLINED,
        now,
        f"contact:{who}",
        task_id=row.id,
        passed_to=after.owner,
    )
    if after.owner is not None:
        store.notify(session, row, after.owner, "assigned", now)
    return row
