"""Time to arrive (pure): medians, p90, the share on site within 15 minutes, and which
tasks count towards it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fleet.dispatch import arrival
from fleet.dispatch.arrival import TaskTimes

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # 10:00 in the district


def task(
    accept_min: float | None = 1,
    on_site_min: float | None = None,
    closed_min: float | None = None,
    found: str | None = None,
    community: str = "c-a",
    opened: datetime = T0,
) -> TaskTimes:
    def at(m: float | None) -> datetime | None:
        return None if m is None else opened + timedelta(minutes=m)

    return TaskTimes(community, opened, at(accept_min), at(on_site_min), at(closed_min), found)


def test_medians_p90_and_share_within_15_minutes():
    tasks = [task(1, m, m + 10, "fall_uninjured") for m in (5, 8, 12, 14, 20)]
    f = arrival.figures(tasks, T0 + timedelta(hours=2))
    assert (f.tasks, f.on_site, f.eligible, f.within_target) == (5, 5, 5, 4)
    assert f.on_site_median_s == 12 * 60
    assert f.on_site_p90_s == 20 * 60
    assert f.accept_median_s == 60
    assert f.within_target_share == 0.8
    assert f.outcomes == {"fall_uninjured": 5}


def test_a_task_still_waiting_counts_only_once_its_15_minutes_are_up():
    waiting = [task(on_site_min=None)]
    assert arrival.figures(waiting, T0 + timedelta(minutes=14)).eligible == 0
    late = arrival.figures(waiting, T0 + timedelta(minutes=15))
    assert (late.eligible, late.within_target, late.within_target_share) == (1, 0, 0.0)


def test_closed_with_nobody_at_the_door_is_neither_hit_nor_miss():
    cancelled = task(accept_min=None, on_site_min=None, closed_min=3)
    by_phone = task(accept_min=2, on_site_min=None, closed_min=40, found="not_at_home")
    f = arrival.figures([cancelled, by_phone], T0 + timedelta(hours=1))
    assert (f.eligible, f.closed_without_arrival, f.within_target_share) == (0, 2, None)
    assert f.outcomes == {"not_at_home": 1}


def test_exactly_15_minutes_is_in_time_and_the_target_is_a_setting():
    assert arrival.figures([task(on_site_min=15)], T0).within_target == 1
    ten = timedelta(minutes=10)
    assert arrival.figures([task(on_site_min=12)], T0, ten).within_target == 0


def test_grouped_per_community_and_local_day():
    late_evening = datetime(2026, 5, 4, 15, 30, tzinfo=UTC)  # 23:30 in the district
    after_midnight = datetime(2026, 5, 4, 16, 30, tzinfo=UTC)  # 00:30 the next day
    tasks = [
        task(on_site_min=9, opened=late_evening),
        task(on_site_min=30, opened=after_midnight),
        task(on_site_min=4, community="c-b", opened=after_midnight),
    ]
    groups = arrival.grouped(tasks, arrival.local_day(ZoneInfo("Asia/Shanghai")), T0)
    assert {k: f.within_target for k, f in groups.items()} == {
        ("c-a", "2026-05-04"): 1,
        ("c-a", "2026-05-05"): 0,
        ("c-b", "2026-05-05"): 1,
    }
    assert arrival.minutes(groups[("c-a", "2026-05-05")].on_site_median_s) == 30.0


def test_no_tasks_no_figures():
    f = arrival.figures([], T0)
    assert (f.tasks, f.on_site_median_s, f.within_target_share, f.outcomes) == (0, None, None, {})
