"""Alert counts for the console's overview, in the caller's scope: unresolved alerts by
severity and by state, and today's (Beijing time) opened and resolved alerts."""

from datetime import datetime, time

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from fleet import clock
from fleet.alerts.lifecycle import AlertState
from fleet.api.deps import CallerDep, SessionDep
from fleet.db.models import Alert
from fleet.db.session import utcnow
from fleet.registry import scope

router = APIRouter(prefix="/api/v1/overview", tags=["alerts"])


class OverviewOut(BaseModel):
    unresolved_by_severity: dict[str, int] = Field(
        description="alerts not resolved yet (open, notified or acknowledged)"
    )
    unresolved_by_state: dict[str, int]
    opened_today: int = Field(description="since midnight, Beijing time")
    resolved_today: int
    day: str = Field(description="today, Beijing time")


@router.get("", response_model=OverviewOut)
def overview(session: SessionDep, caller: CallerDep) -> OverviewOut:
    now = utcnow()
    today = now.astimezone(clock.zone()).date()
    midnight = datetime.combine(today, time(0), clock.zone())
    visible = scope.alerts(caller)
    by_severity: dict[str, int] = {"critical": 0, "high": 0, "medium": 0, "low": 0}
    by_state = {s.value: 0 for s in AlertState if s is not AlertState.RESOLVED}
    rows = session.execute(
        select(Alert.severity, Alert.state, func.count())
        .where(visible, Alert.resolved_at.is_(None))
        .group_by(Alert.severity, Alert.state)
    ).all()
    for severity, state, count in rows:
        if severity in by_severity:
            by_severity[severity] += count
        if state in by_state:
            by_state[state] += count
    opened = session.execute(
        select(func.count()).select_from(Alert).where(visible, Alert.opened_at >= midnight)
    ).scalar_one()
    resolved = session.execute(
        select(func.count()).select_from(Alert).where(visible, Alert.resolved_at >= midnight)
    ).scalar_one()
    return OverviewOut(
        unresolved_by_severity=by_severity,
        unresolved_by_state=by_state,
        opened_today=opened,
        resolved_today=resolved,
        day=today.isoformat(),
    )
