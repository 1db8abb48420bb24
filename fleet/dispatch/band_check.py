"""Outcomes that feed back, in the registry: judging an alert when it resolves, the
"check band fit and settings" task after a resident's second false alarm in a week,
and the figures of field precision per rule and per resident (fleet.dispatch.feedback).
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.alerts.escalation import contacts_for
from fleet.alerts.policy import GRID_WORKER
from fleet.db.models import Alert, CareTask, DispatchTask
from fleet.dispatch import feedback

CHECK_BAND = "check_band"


def judged(
    session: Session, since: datetime, until: datetime, resident_id: str | None = None
) -> list[feedback.Judged]:
    """Every resolved alert opened in [since, until) with its verdict."""
    query = (
        select(Alert.kind, Alert.resident_id, Alert.opened_at, DispatchTask.found, Alert.outcome)
        .outerjoin(DispatchTask, DispatchTask.alert_id == Alert.id)
        .where(Alert.opened_at >= since, Alert.opened_at < until, Alert.resolved_at.is_not(None))
    )
    if resident_id is not None:
        query = query.where(Alert.resident_id == resident_id)
    return [
        feedback.Judged(kind, resident, opened_at, feedback.verdict(found, outcome))
        for kind, resident, opened_at, found, outcome in session.execute(query).all()
    ]


def after_resolved(session: Session, alert: Alert, now: datetime) -> CareTask | None:
    """A false alarm just resolved: the second in a week of this resident's band opens a
    band check for their grid worker (once: not while one is open)."""
    if alert.resident_id is None:
        return None
    items = judged(
        session, now - feedback.BAND_CHECK_WINDOW, now + timedelta(seconds=1), alert.resident_id
    )
    if not feedback.needs_band_check(items, alert.resident_id, now):
        return None
    open_check = session.execute(
        select(CareTask.id).where(
            CareTask.resident_id == alert.resident_id,
            CareTask.kind == CHECK_BAND,
            CareTask.done_at.is_(None),
        )
    ).first()
    if open_check is not None:
        return None
    workers = contacts_for(session, alert, (GRID_WORKER,))
    task = CareTask(
        resident_id=alert.resident_id,
        kind=CHECK_BAND,
        reason={
            "false_alarms_7d": sum(1 for i in items if i.real is False),
            "last_alert_id": alert.id,
            "text_zh": "一周内两次误报：请检查手环佩戴和设置",
            "text_en": "two false alarms in a week: check band fit and settings",
        },
        assignee_id=workers[0][0].id if workers else None,
        created_at=now,
    )
    session.add(task)
    return task
