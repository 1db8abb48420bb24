"""Response figures per community and day, for health-center staff (their town) and
admins: time to notify, time to acknowledge, share acknowledged within 15 minutes."""

from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from fleet import clock
from fleet.alerts import sla
from fleet.api.deps import SessionDep, SettingsDep, StaffDep
from fleet.api.schemas import EndDay, OpaqueId, StartDay
from fleet.db.models import Alert
from fleet.db.session import utcnow
from fleet.errors import Invalid
from fleet.registry import scope

router = APIRouter(prefix="/api/v1/sla", tags=["sla"])

MAX_DAYS = 366


class FiguresOut(BaseModel):
    alerts: int
    notified: int
    acknowledged: int
    notify_median_s: float | None
    notify_p90_s: float | None
    ack_median_s: float | None
    ack_p90_s: float | None
    eligible: int = Field(description="alerts acknowledged, or open for at least 15 minutes")
    within_target: int = Field(description="acknowledged within 15 minutes")
    within_target_share: float | None = Field(description="within_target / eligible")


class DayOut(FiguresOut):
    community_id: str | None
    day: date


class CommunityOut(FiguresOut):
    community_id: str | None


class SlaOut(BaseModel):
    start: date
    end: date
    target_s: int
    timezone: str
    days: list[DayOut]
    communities: list[CommunityOut]
    total: FiguresOut


def _fig(f: sla.Figures) -> dict[str, Any]:
    return asdict(f)


@router.get("", response_model=SlaOut)
def get_sla(
    *,
    session: SessionDep,
    caller: StaffDep,
    settings: SettingsDep,
    start: StartDay = None,
    end: EndDay = None,
    community_id: Annotated[OpaqueId | None, Query()] = None,
    incident: Annotated[
        Literal["emergency", "inactivity", "medication", "water", "device"] | None, Query()
    ] = None,
) -> SlaOut:
    now = utcnow()
    today = now.astimezone(clock.zone()).date()
    last = end or today
    first = start or last - timedelta(days=6)
    if first > last:
        raise Invalid("start is after end")
    if (last - first).days >= MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days at once")
    if last.year >= 9999:
        raise Invalid("end is out of range")
    since = datetime.combine(first, time(0), clock.zone())
    until = datetime.combine(last + timedelta(days=1), time(0), clock.zone())
    query = select(
        Alert.community_id, Alert.opened_at, Alert.notified_at, Alert.acknowledged_at
    ).where(scope.alerts(caller), Alert.opened_at >= since, Alert.opened_at < until)
    if community_id is not None:
        query = query.where(Alert.community_id == community_id)
    if incident is not None:
        query = query.where(Alert.incident == incident)
    rows = [sla.AlertTimes(*row) for row in session.execute(query).all()]
    target = timedelta(seconds=settings.response_target_s)
    per_day = sla.grouped(rows, sla.local_day(clock.zone()), now, target)
    per_community = sla.grouped(rows, lambda a: a.community_id, now, target)
    days = [
        DayOut(community_id=community, day=date.fromisoformat(day), **_fig(f))
        for (community, day), f in sorted(
            per_day.items(), key=lambda kv: (kv[0][1], kv[0][0] or "")
        )
    ]
    communities = [
        CommunityOut(community_id=key, **_fig(f))
        for key, f in sorted(per_community.items(), key=lambda kv: kv[0] or "")
    ]
    return SlaOut(
        start=first,
        end=last,
        target_s=settings.response_target_s,
        timezone=settings.timezone,
        days=days,
        communities=communities,
        total=FiguresOut(**_fig(sla.figures(rows, now, target))),
    )
