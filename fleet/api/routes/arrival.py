"""Time to arrive, per community and local day, for staff (their town) and admins: time
to accept, time to on-site (median, p90, share within 15 minutes), outcomes by kind —
as JSON, and as a monthly CSV a health center can hand on (fleet.dispatch.arrival)."""

import csv
import io
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet import clock
from fleet.api.deps import Caller, SessionDep, SettingsDep, StaffDep
from fleet.api.schemas import EndDay, OpaqueId, StartDay
from fleet.db.models import Alert, Community, DispatchTask
from fleet.db.session import utcnow
from fleet.dispatch import arrival
from fleet.dispatch.tasks import Found
from fleet.errors import Invalid
from fleet.registry import scope

router = APIRouter(prefix="/api/v1/dispatch", tags=["dispatch"])

MAX_DAYS = 366


class FiguresOut(BaseModel):
    tasks: int
    accepted: int
    accept_median_s: float | None
    accept_p90_s: float | None
    on_site: int
    on_site_median_s: float | None
    on_site_p90_s: float | None
    eligible: int = Field(description="checked in, or open without a check-in for 15 minutes")
    within_target: int = Field(description="on site within 15 minutes of the alert")
    within_target_share: float | None = Field(description="within_target / eligible")
    closed_without_arrival: int = Field(description="closed with nobody at the door")
    outcomes: dict[str, int] = Field(description="what was found -> tasks")


class DayOut(FiguresOut):
    community_id: str | None
    day: date


class CommunityOut(FiguresOut):
    community_id: str | None


class ArrivalOut(BaseModel):
    start: date
    end: date
    target_s: int
    timezone: str
    days: list[DayOut]
    communities: list[CommunityOut]
    total: FiguresOut


def _rows(
    session: Session, caller: Caller, first: date, last: date, community_id: str | None
) -> list[arrival.TaskTimes]:
    since = datetime.combine(first, time(0), clock.zone())
    until = datetime.combine(last + timedelta(days=1), time(0), clock.zone())
    query = (
        select(
            DispatchTask.community_id,
            Alert.opened_at,
            DispatchTask.accepted_at,
            DispatchTask.on_site_at,
            DispatchTask.closed_at,
            DispatchTask.found,
        )
        .join(Alert, Alert.id == DispatchTask.alert_id)
        .where(scope.tasks(caller), Alert.opened_at >= since, Alert.opened_at < until)
    )
    if community_id is not None:
        query = query.where(DispatchTask.community_id == community_id)
    return [arrival.TaskTimes(*row) for row in session.execute(query).all()]


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    today = utcnow().astimezone(clock.zone()).date()
    last = end or today
    first = start or last - timedelta(days=6)
    if first > last:
        raise Invalid("start is after end")
    if (last - first).days >= MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days at once")
    if last.year >= 9999:
        raise Invalid("end is out of range")
    return first, last


def _fig(f: arrival.Figures) -> dict[str, Any]:
    return asdict(f)


def _figures(
    rows: list[arrival.TaskTimes], target: timedelta
) -> tuple[
    dict[tuple[str | None, str], arrival.Figures],
    dict[str | None, arrival.Figures],
    arrival.Figures,
]:
    now = utcnow()
    per_day = arrival.grouped(rows, arrival.local_day(clock.zone()), now, target)
    per_community = arrival.grouped(rows, lambda r: r.community_id, now, target)
    return per_day, per_community, arrival.figures(rows, now, target)


@router.get("/arrival", response_model=ArrivalOut)
def get_arrival(
    *,
    session: SessionDep,
    caller: StaffDep,
    settings: SettingsDep,
    start: StartDay = None,
    end: EndDay = None,
    community_id: Annotated[OpaqueId | None, Query()] = None,
) -> ArrivalOut:
    first, last = _range(start, end)
    target = timedelta(seconds=settings.response_target_s)
    per_day, per_community, total = _figures(
        _rows(session, caller, first, last, community_id), target
    )
    return ArrivalOut(
        start=first,
        end=last,
        target_s=settings.response_target_s,
        timezone=settings.timezone,
        days=[
            DayOut(community_id=community, day=date.fromisoformat(day), **_fig(f))
            for (community, day), f in sorted(
                per_day.items(), key=lambda kv: (kv[0][1], kv[0][0] or "")
            )
        ],
        communities=[
            CommunityOut(community_id=key, **_fig(f))
            for key, f in sorted(per_community.items(), key=lambda kv: kv[0] or "")
        ],
        total=FiguresOut(**_fig(total)),
    )


# The CSV's columns: "中文 / English", so one file serves both readers.
CSV_HEADER = [
    "社区编号 / community id",
    "社区 / community",
    "日期 / day",
    "任务数 / tasks",
    "已接单 / accepted",
    "接单中位分钟 / accept median min",
    "接单P90分钟 / accept p90 min",
    "已到达 / on site",
    "到达中位分钟 / on-site median min",
    "到达P90分钟 / on-site p90 min",
    "应计数 / eligible",
    "15分钟内到达 / within 15 min",
    "15分钟内到达比例 / within 15 min share",
    "无人上门即结束 / closed without arrival",
    *[f"结果 / found: {f.value}" for f in Found],
]


def _csv_row(community: str | None, name: str, day: str, f: arrival.Figures) -> list[object]:
    return [
        community or "",
        name,
        day,
        f.tasks,
        f.accepted,
        arrival.minutes(f.accept_median_s),
        arrival.minutes(f.accept_p90_s),
        f.on_site,
        arrival.minutes(f.on_site_median_s),
        arrival.minutes(f.on_site_p90_s),
        f.eligible,
        f.within_target,
        f.within_target_share,
        f.closed_without_arrival,
        *[f.outcomes.get(found.value, 0) for found in Found],
    ]


@router.get("/arrival.csv", response_class=Response)
def arrival_csv(
    *,
    session: SessionDep,
    caller: StaffDep,
    settings: SettingsDep,
    month: Annotated[str, Query(pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$")],
    community_id: Annotated[OpaqueId | None, Query()] = None,
) -> Response:
    """The month's figures per community and day, then each community's month ("月计 /
    month" in the day column), then the town's ("合计 / total"). UTF-8 with a byte-order
    mark, so Excel opens the Chinese correctly."""
    first = date.fromisoformat(f"{month}-01")
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    rows = _rows(session, caller, first, last, community_id)
    per_day, per_community, total = _figures(rows, timedelta(seconds=settings.response_target_s))
    names: dict[str, str] = dict(session.execute(select(Community.id, Community.name)).all())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for (community, day), f in sorted(per_day.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        writer.writerow(_csv_row(community, names.get(community or "", ""), day, f))
    for community, f in sorted(per_community.items(), key=lambda kv: kv[0] or ""):
        writer.writerow(_csv_row(community, names.get(community or "", ""), "月计 / month", f))
    writer.writerow(_csv_row(None, "", "合计 / total", total))
    filename = f"arrival-{month}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
