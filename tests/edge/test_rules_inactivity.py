"""Inactivity inside active hours, weighed by what the flat's meters say."""

import datetime as dt
import zoneinfo

import pytest

from contract import Event, EventKind, Severity
from contract.careplan import CarePlan
from contract.config import ResidentConfig
from contract.rules import GatewayRules, InactivitySettings
from edge.rules.config import BandBinding, RulesConfig
from edge.rules.engine import RuleEngine
from edge.rules.usage import UsageSummary
from tests.factories import MAC, motion_frame, status_frame

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(day: int, hh: int, mm: int = 0) -> float:
    return dt.datetime(2026, 5, day, hh, mm, tzinfo=TZ).timestamp()


def config(**resident: object) -> RulesConfig:
    rules = GatewayRules(inactivity=InactivitySettings(span_s=2 * 3600, active_hours="07:00-22:00"))  # type: ignore[arg-type]
    residents = [ResidentConfig(resident="r-1", flat="f-1", plan=CarePlan.model_validate(resident))]
    return RulesConfig.build(rules, residents, {MAC: BandBinding("r-1", "f-1")})


class Day:
    """A band heard once a minute (adverts in between add nothing here)."""

    def __init__(self, rules: RuleEngine, start: float) -> None:
        self.rules = rules
        self.t = start
        self.counter = 100
        self.events: list[Event] = []

    def until(self, end: float, *, moving: bool = False, step: float = 60.0) -> None:
        while self.t < end:
            self.t += step
            self.counter += 1
            frame = motion_frame(self.counter, moving=moving)
            self.events += self.rules.on_frame(frame, self.t)
            self.events += self.rules.on_tick(self.t)

    def inactivity(self) -> list[Event]:
        return [e for e in self.events if e.kind is EventKind.INACTIVITY]


def test_no_movement_for_the_span_in_active_hours_is_reported_once():
    day = Day(RuleEngine("gw-01", config()), at(1, 9))
    day.until(at(1, 10), moving=True)
    day.until(at(1, 11, 59))
    assert day.inactivity() == []
    day.until(at(1, 15))
    (event,) = day.inactivity()
    assert at(1, 12) <= event.detected_at <= at(1, 12, 2)
    assert event.severity is Severity.MEDIUM  # no meter evidence either way
    assert event.evidence["flat"] == "f-1"
    assert event.evidence["span_s"] == 7200


def test_a_night_asleep_is_not_inactivity_but_not_getting_up_is():
    day = Day(RuleEngine("gw-01", config()), at(1, 20))
    day.until(at(1, 21), moving=True)  # last movement at 21:00
    day.until(at(2, 7, 50))  # 1 h before 22:00 + 50 min after 07:00
    assert day.inactivity() == []
    day.until(at(2, 9))
    (event,) = day.inactivity()
    assert at(2, 8) <= event.detected_at <= at(2, 8, 2)


def test_movement_starts_a_new_span():
    day = Day(RuleEngine("gw-01", config()), at(1, 8))
    day.until(at(1, 10, 30))
    day.until(at(1, 10, 40), moving=True)
    day.until(at(1, 12, 39))
    assert len(day.inactivity()) == 1
    day.until(at(1, 12, 45))
    first, second = day.inactivity()
    assert first.id != second.id


def test_step_counts_going_up_are_movement_too():
    rules = RuleEngine("gw-01", config())
    t = at(1, 8)
    for i in range(200):
        t += 60
        rules.on_frame(status_frame(i, steps=1000 + i), t)
        assert rules.on_tick(t) == []


def test_per_resident_span_and_active_hours_apply():
    day = Day(RuleEngine("gw-01", config(inactivity_s=3600, active_hours="09:00-18:00")), at(1, 6))
    day.until(at(1, 9, 59))
    assert day.inactivity() == []  # before 09:00 nothing counts
    day.until(at(1, 10, 5))
    assert len(day.inactivity()) == 1


@pytest.mark.parametrize(
    ("usage", "severity"),
    [
        (UsageSummary(water=False, power=False), Severity.HIGH),
        (UsageSummary(water=False, power=None), Severity.HIGH),
        (UsageSummary(water=True, power=False), Severity.LOW),
        (UsageSummary(water=None, power=True), Severity.LOW),
        (UsageSummary(), Severity.MEDIUM),
    ],
)
def test_the_meters_raise_or_lower_the_severity(usage: UsageSummary, severity: Severity):
    asked: list[tuple[str, float, float]] = []

    def meters(flat: str, now: float, span_s: float) -> UsageSummary:
        asked.append((flat, now, span_s))
        return usage

    day = Day(RuleEngine("gw-01", config(), usage=meters), at(1, 8))
    day.until(at(1, 11))
    (event,) = day.inactivity()
    assert event.severity is severity
    assert event.evidence["water_used"] is usage.water
    assert event.evidence["power_used"] is usage.power
    assert asked == [("f-1", event.detected_at, 7200)]


def test_a_band_taken_off_lowers_the_severity():
    rules = RuleEngine("gw-01", config())
    rules.on_frame(status_frame(1, worn=False), at(1, 8))
    day = Day(rules, at(1, 8))
    day.until(at(1, 11))
    (event,) = day.inactivity()
    assert event.severity is Severity.LOW
    assert event.evidence["worn"] is False


def test_two_gateways_hearing_the_band_a_few_seconds_apart_give_one_id():
    a = Day(RuleEngine("gw-01", config()), at(1, 8))
    b = Day(RuleEngine("gw-02", config()), at(1, 8) + 7)
    a.until(at(1, 9, 3), moving=True)
    b.until(at(1, 9, 3) + 7, moving=True)
    a.until(at(1, 12))
    b.until(at(1, 12))
    (ea,), (eb,) = a.inactivity(), b.inactivity()
    assert ea.id == eb.id


def test_clock_steps_neither_advance_nor_delay_the_alarm():
    day = Day(RuleEngine("gw-01", config()), at(1, 8))
    day.until(at(1, 9), moving=True)
    day.until(at(1, 10))
    day.t += 6 * 3600  # first NTP answer after boot: six hours "pass" in no time
    day.until(day.t + 50 * 60)
    assert day.inactivity() == []
    day.t -= 3 * 3600  # and back again
    day.until(day.t + 15 * 60)
    assert len(day.inactivity()) == 1


def test_the_meter_service_can_be_plugged_in_after_the_engine_is_built():
    rules = RuleEngine("gw-01", config())
    rules.set_usage(lambda flat, now, span_s: UsageSummary(water=False, power=False))
    day = Day(rules, at(1, 8))
    day.until(at(1, 11))
    (event,) = day.inactivity()
    assert event.severity is Severity.HIGH
