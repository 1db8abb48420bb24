"""The battery model on synthetic series: slope since the last charge, days left,
flags, and abnormal drain against the fleet's median."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.battery import (
    MIN_PEERS,
    Sample,
    assess,
    current_cycle,
    drain_per_day,
)

NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)


def series(
    start_level: float,
    per_day: float,
    *,
    days: float = 4,
    every_h: float = 1,
    end: datetime = NOW,
    whole: bool = True,
) -> list[Sample]:
    """Readings every ``every_h`` hours up to ``end``, falling ``per_day`` points a day,
    rounded to whole percent as a band's gauge reports them."""
    n = int(days * 24 / every_h)
    out = []
    for i in range(n + 1):
        at = end - timedelta(hours=every_h * (n - i))
        level = start_level - per_day * (every_h * i) / 24
        out.append(Sample(at, float(round(level)) if whole else level))
    return out


def test_a_steady_drain_is_measured_from_whole_percent_readings():
    samples = series(90, 2.0)
    drain = drain_per_day(samples)
    assert drain == pytest.approx(2.0, abs=0.05)
    report = assess({"A": samples}, {}, NOW)
    band = report.bands["A"]
    assert band.level == 82
    assert band.days_left == pytest.approx(82 / 2.0, abs=1)
    assert band.days_to_low == pytest.approx((82 - 20) / 2.0, abs=1)
    assert not band.low
    assert not band.critical
    assert not band.charge_soon
    assert not band.abnormal
    assert not band.not_heard


def test_the_slope_starts_again_after_a_charge():
    before = series(60, 10.0, days=2, end=NOW - timedelta(days=2))
    after = series(100, 3.0, days=2)
    cycle = current_cycle(before + after)
    assert cycle[0].at == after[0].at
    assert drain_per_day(cycle) == pytest.approx(3.0, abs=0.1)
    band = assess({"A": before + after}, {}, NOW).bands["A"]
    assert band.cycle_start == after[0].at
    assert band.drain_per_day == pytest.approx(3.0, abs=0.1)


def test_a_few_hours_of_readings_give_no_slope():
    short = series(80, 5.0, days=0.4)  # under 12 h: a 1 % gauge step would dominate
    assert drain_per_day(short) is None
    band = assess({"A": short}, {}, NOW).bands["A"]
    assert band.drain_per_day is None
    assert band.days_left is None
    assert band.level == short[-1].level


def test_days_left_count_from_now_not_from_the_last_reading():
    samples = series(50, 5.0, end=NOW - timedelta(days=2))
    band = assess({"A": samples}, {}, NOW).bands["A"]
    assert band.days_left == pytest.approx(samples[-1].level / 5.0 - 2, abs=0.3)
    assert band.not_heard


def test_low_critical_and_charge_soon():
    report = assess(
        {
            "low": series(34, 5.0),  # ends at 14 %
            "critical": series(28, 5.0),  # ends at 8 %
            "soon": series(45, 6.0),  # ends at 21 %, reaches 20 % within hours
            "fine": series(95, 1.0),
        },
        {},
        NOW,
    )
    bands = report.bands
    assert bands["low"].low
    assert not bands["low"].critical
    assert bands["critical"].low
    assert bands["critical"].critical
    assert bands["soon"].charge_soon
    assert not bands["soon"].low
    assert not bands["fine"].charge_soon


def test_abnormal_drain_is_flagged_against_the_fleet_median():
    history = {f"n{i}": series(90, 2.0 + 0.1 * i) for i in range(6)}
    history["hungry"] = series(95, 9.0, days=2)
    report = assess(history, {}, NOW)
    assert report.median_drain_per_day == pytest.approx(2.3, abs=0.2)
    assert report.bands["hungry"].abnormal
    assert not any(report.bands[f"n{i}"].abnormal for i in range(6))


def test_no_band_is_called_abnormal_without_enough_peers():
    history = {f"n{i}": series(90, 2.0) for i in range(MIN_PEERS - 2)}
    history["hungry"] = series(95, 9.0, days=2)
    report = assess(history, {}, NOW)
    assert report.bands_with_slope == MIN_PEERS - 1
    assert not report.bands["hungry"].abnormal


def test_a_band_flat_on_a_charger_does_not_drag_the_median_down():
    history = {f"n{i}": series(90, 3.0) for i in range(6)}
    history |= {f"charger{i}": series(100, 0.0) for i in range(6)}
    report = assess(history, {}, NOW)
    assert report.median_drain_per_day == pytest.approx(3.0, abs=0.1)
    assert report.bands["charger0"].days_left is None  # not discharging: no prediction


def test_the_last_reading_sets_the_level_and_a_band_never_heard_is_flagged():
    history = {"A": series(90, 2.0, end=NOW - timedelta(hours=3))}
    latest = {"A": Sample(NOW - timedelta(minutes=5), 81.0), "B": Sample(NOW, 70.0)}
    report = assess(history, latest, NOW)
    assert report.bands["A"].level == 81
    assert report.bands["A"].level_at == NOW - timedelta(minutes=5)
    assert not report.bands["A"].not_heard
    assert report.bands["B"].drain_per_day is None  # one reading: a level, no slope
    assert report.bands["B"].level == 70


@given(
    per_day=st.floats(min_value=0.5, max_value=20),
    start=st.floats(min_value=60, max_value=100),
    every_h=st.sampled_from([0.5, 1.0, 3.0]),
)
def test_any_steady_drain_is_recovered_within_the_gauges_step(
    per_day: float, start: float, every_h: float
):
    samples = series(start, per_day, days=2.5, every_h=every_h)
    assert min(s.level for s in samples) > 0
    drain = drain_per_day(samples)
    assert drain is not None
    # Whole-percent readings over 2.5 days: the slope is off by well under a point a day.
    assert drain == pytest.approx(per_day, abs=0.5)
