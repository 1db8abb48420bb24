"""Product time: one setting builds the same timeline in every process."""

import time

import pytest

from contract.clock import SYSTEM, ScaledClock, parse_clock
from fleet import clock as fleet_clock


def test_the_same_setting_gives_every_process_the_same_time():
    a = ScaledClock(1_790_000_000.0, time.time() - 10, 300)
    b = parse_clock(a.setting())
    assert abs(a.now() - b.now()) < 1.0  # within a few real milliseconds x 300
    assert a.now() - 1_790_000_000.0 == pytest.approx(3000, abs=30)


def test_waiting_in_product_time_takes_the_real_time_it_should():
    fast = ScaledClock(0.0, time.time(), 200)
    assert fast.wall(60) == pytest.approx(0.3)
    assert SYSTEM.wall(60) == 60


async def test_a_sleep_in_product_time_is_divided_by_the_speed():
    fast = ScaledClock(0.0, time.time(), 100)
    started = time.monotonic()
    await fast.sleep(5.0)  # five product seconds: 50 real milliseconds
    assert 0.04 <= time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("text", "problem"),
    [("fast", "unknown clock"), ("scaled:1:2", "three numbers"), ("scaled:1:2:0", "above 0")],
)
def test_a_bad_clock_setting_says_how_to_write_it(text: str, problem: str):
    with pytest.raises(ValueError, match=problem):
        parse_clock(text)


def test_the_fleets_polls_never_spin_however_fast_the_clock():
    try:
        fleet_clock.install(ScaledClock(0.0, time.time(), 10_000))
        assert fleet_clock.poll_s(1.0) == 0.1  # not 0.1 ms
        assert fleet_clock.wait_s(300.0, cap_s=0.1) == pytest.approx(0.03)
    finally:
        fleet_clock.install(SYSTEM)
