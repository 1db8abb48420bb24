"""The band itself: battery low or draining fast, not worn, not seen."""

import datetime as dt
import math
import zoneinfo

from contract import Event, EventKind, Severity
from contract.rules import DeviceSettings, GatewayRules
from edge.rules.config import BandBinding, RulesConfig
from edge.rules.device import discharge_slope
from edge.rules.engine import RuleEngine
from tests.factories import MAC, motion_frame, status_frame

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(day: int, hh: int, mm: int = 0) -> float:
    return dt.datetime(2026, 5, day, hh, mm, tzinfo=TZ).timestamp()


def engine(**device: float) -> RuleEngine:
    rules = GatewayRules(device=DeviceSettings(**device))  # type: ignore[arg-type]
    config = RulesConfig.build(rules, [], {MAC: BandBinding("r-1")})
    # These tests call the engine hours apart, not every second as the app does.
    return RuleEngine("gw-01", config, max_tick_gap_s=math.inf)


def of(events: list[Event], kind: EventKind) -> list[Event]:
    return [e for e in events if e.kind is kind]


def test_battery_at_the_low_and_critical_thresholds():
    rules = engine()
    events = []
    for i, pct in enumerate([25, 21, 20, 20, 15, 11, 10, 9]):
        events += rules.on_frame(status_frame(i, battery=pct), at(1, 9) + 10 * i)
    low, critical = of(events, EventKind.LOW_BATTERY)
    assert (low.severity, low.evidence["level"], low.evidence["battery_pct"]) == (
        Severity.LOW,
        "low",
        20,
    )
    assert (critical.severity, critical.evidence["battery_pct"]) == (Severity.MEDIUM, 10)


def test_a_band_left_low_is_reported_again_the_next_day():
    rules = engine()
    first = rules.on_frame(status_frame(1, battery=18), at(1, 9))
    same_day = rules.on_frame(status_frame(2, battery=18), at(1, 20))
    next_day = rules.on_frame(status_frame(3, battery=17), at(2, 9))
    assert len(first) == 1
    assert same_day == []
    assert len(next_day) == 1
    assert first[0].id != next_day[0].id


def test_a_fast_drain_is_reported_before_the_threshold():
    rules = engine()
    events = []
    # 60 % down 8 % a day: 20 % in five days. Fine. Then 6 % in half a day: a fault.
    t = at(1, 0)
    for pct in (60, 59, 58):
        events += rules.on_frame(status_frame(pct, battery=pct), t)
        t += 3 * 3600
    assert of(events, EventKind.LOW_BATTERY) == []
    for pct in range(57, 40, -2):
        t += 3600
        events += rules.on_frame(status_frame(100 + pct, battery=pct), t)
    (trend,) = of(events, EventKind.LOW_BATTERY)
    assert trend.evidence["level"] == "trend"
    assert trend.evidence["pct_per_day"] < -10
    assert trend.evidence["days_to_low"] <= 3


def test_charging_starts_a_new_discharge_cycle():
    rules = engine()
    t = at(1, 0)
    events = []
    for i, pct in enumerate([40, 35, 30, 90, 90, 89]):
        t += 4 * 3600
        events += rules.on_frame(status_frame(i, battery=pct), t)
    assert of(events, EventKind.LOW_BATTERY) == []


def test_least_squares_slope():
    assert discharge_slope([(0, 100), (10, 90), (20, 80)]) == -1.0
    assert discharge_slope([(0, 100), (0, 90), (0, 80)]) is None
    assert discharge_slope([(0, 100)]) is None


def test_not_worn_for_half_an_hour_of_active_hours():
    rules = engine()
    events = rules.on_frame(status_frame(1, worn=False), at(1, 21, 50))
    t = at(1, 21, 50)
    while t < at(2, 7, 15):
        t += 60
        events += rules.on_tick(t)
        events += rules.on_frame(motion_frame(int(t)), t)
    # 10 min before 22:00 and 15 after 07:00 count; the night on the charger does not.
    assert of(events, EventKind.NOT_WORN) == []
    while t < at(2, 7, 25):
        t += 60
        events += rules.on_tick(t)
    (not_worn,) = of(events, EventKind.NOT_WORN)
    assert not_worn.severity is Severity.MEDIUM
    events += rules.on_frame(status_frame(99999, worn=True), t)
    events += rules.on_frame(status_frame(100000, worn=False), t + 60)
    for k in range(40):
        events += rules.on_tick(t + 120 + 60 * k)
    assert len(of(events, EventKind.NOT_WORN)) == 2


def test_not_seen_once_per_silence():
    rules = engine(not_seen_s=600)
    events = rules.on_frame(motion_frame(1), at(1, 10))
    for k in range(1, 30):
        events += rules.on_tick(at(1, 10) + 60 * k)
    (silent,) = of(events, EventKind.NOT_SEEN)
    assert silent.evidence["silent_s"] == 600
    events += rules.on_frame(motion_frame(2), at(1, 11))
    for k in range(1, 12):
        events += rules.on_tick(at(1, 11) + 60 * k)
    assert len(of(events, EventKind.NOT_SEEN)) == 2


def test_a_configured_band_never_heard_is_not_seen():
    rules = engine(not_seen_s=600)
    events: list[Event] = []
    for k in range(12):
        events += rules.on_tick(at(1, 10) + 60 * k)
    (silent,) = of(events, EventKind.NOT_SEEN)
    assert silent.device == MAC


def test_a_clock_step_forward_is_not_silence():
    config = RulesConfig.build(GatewayRules(), [], {MAC: BandBinding("r-1")})
    rules = RuleEngine("gw-01", config)  # called every second, as by the app
    t = at(1, 10)
    events = rules.on_frame(motion_frame(1), t)
    for k in range(1, 60):
        events += rules.on_tick(t + k)
    t += 5 * 86400  # the first NTP answer after a boot without a real-time clock
    for k in range(60, 120):
        events += rules.on_tick(t + k)
        events += rules.on_frame(motion_frame(k), t + k)
    assert of(events, EventKind.NOT_SEEN) == []
    assert rules.clock_steps == 1
