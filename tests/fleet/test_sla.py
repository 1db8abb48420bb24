"""Response figures (pure)."""

from datetime import UTC, datetime, timedelta

from fleet import clock
from fleet.alerts.sla import AlertTimes, figures, grouped, local_day, percentile

T = datetime(2026, 5, 4, 15, 50, tzinfo=UTC)  # 23:50 in the district


def alert(opened_min: float, notified_s: float | None, ack_min: float | None, community="c-a"):
    opened = T + timedelta(minutes=opened_min)
    return AlertTimes(
        community,
        opened,
        opened + timedelta(seconds=notified_s) if notified_s is not None else None,
        opened + timedelta(minutes=ack_min) if ack_min is not None else None,
    )


def test_share_acknowledged_within_15_minutes_counts_only_alerts_that_had_their_time():
    alerts = [
        alert(0, 0.4, 3),  # in time
        alert(0, 0.3, 15),  # exactly 15 minutes: in time
        alert(0, 0.5, 40),  # late
        alert(0, None, None),  # never acknowledged, an hour ago: a miss
        alert(55, 0.2, None),  # opened 5 minutes ago: not judged yet
    ]
    f = figures(alerts, now=T + timedelta(minutes=60))
    assert (f.alerts, f.notified, f.acknowledged) == (5, 4, 3)
    assert (f.eligible, f.within_target) == (4, 2)
    assert f.within_target_share == 0.5
    assert f.ack_median_s == 15 * 60
    assert f.notify_p90_s == 0.5


def test_days_are_local_days_per_community():
    alerts = [alert(0, 1, 1), alert(20, 1, 1), alert(20, 1, 1, community="c-b")]  # 23:50, 00:10
    per_day = grouped(alerts, local_day(clock.zone()), now=T + timedelta(hours=2))
    assert sorted(per_day) == [("c-a", "2026-05-04"), ("c-a", "2026-05-05"), ("c-b", "2026-05-05")]
    assert per_day[("c-a", "2026-05-05")].alerts == 1


def test_nearest_rank_percentile():
    assert percentile([], 50) is None
    assert percentile([1.0], 99) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile(list(map(float, range(1, 101))), 99) == 99.0
