"""Medication: a reminder at the dose time, "taken" by a short press, else MISSED_DOSE."""

import datetime as dt
import zoneinfo

from contract import Event, EventKind, Severity, event_id
from contract.careplan import CarePlan
from contract.config import ResidentConfig
from contract.rules import GatewayRules, MedicationSettings
from edge.decode.profile import BandEventKind
from edge.rules.actions import CommandKind
from edge.rules.config import BandBinding, RulesConfig
from edge.rules.engine import RuleEngine
from tests.factories import MAC, event_frame

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
PRESS = BandEventKind.SHORT_PRESS


def at(hh: int, mm: int = 0, ss: int = 0, day: int = 1) -> float:
    return dt.datetime(2026, 5, day, hh, mm, ss, tzinfo=TZ).timestamp()


def config(doses: list[dict[str, object]], grace_s: float | None = None) -> RulesConfig:
    """r-1's plan with these dose times (ids d0, d1 ...); ``grace_s`` for the gateway."""
    plan = CarePlan.model_validate(
        {"medication": [{"id": f"d{i}", **dose} for i, dose in enumerate(doses)]}
    )
    rules = (
        GatewayRules()
        if grace_s is None
        else GatewayRules(medication=MedicationSettings(grace_s=grace_s))
    )
    return RulesConfig.build(
        rules, [ResidentConfig(resident="r-1", plan=plan)], {MAC: BandBinding("r-1")}
    )


class Clock:
    def __init__(self, rules: RuleEngine, t: float) -> None:
        self.rules = rules
        self.t = t
        self.counter = 10
        self.events: list[Event] = []

    def run_until(self, end: float, step: float = 30.0) -> None:
        while self.t < end:
            self.t = min(end, self.t + step)
            self.events += self.rules.on_tick(self.t)

    def press(self, kind: BandEventKind = PRESS, copies: int = 5) -> None:
        self.counter += 1
        origin = self.counter
        for age in range(copies):
            self.events += self.rules.on_frame(event_frame(origin + age, kind, age), self.t)
        self.counter += copies

    def of(self, kind: EventKind) -> list[Event]:
        return [e for e in self.events if e.kind is kind]


def test_a_reminder_is_queued_for_the_band_at_the_dose_time():
    rules = RuleEngine("gw-01", config([{"time": "08:00"}, {"time": "20:00"}]))
    clock = Clock(rules, at(7, 50))
    clock.run_until(at(7, 59, 30))
    assert rules.take_commands() == []
    clock.run_until(at(8, 1))
    (command,) = rules.take_commands()
    assert command.kind is CommandKind.MEDICATION_REMINDER
    assert command.device == MAC
    assert command.key == "2026-05-01T08:00"
    assert command.expires_at == at(8, 30)
    clock.run_until(at(9))
    assert rules.take_commands() == []  # once per dose


def test_no_press_within_the_grace_span_is_a_missed_dose():
    clock = Clock(RuleEngine("gw-01", config([{"time": "08:00"}], grace_s=600)), at(7, 59))
    clock.run_until(at(8, 9, 30))
    assert clock.of(EventKind.MISSED_DOSE) == []
    clock.run_until(at(8, 30))
    (missed,) = clock.of(EventKind.MISSED_DOSE)
    assert missed.severity is Severity.MEDIUM
    assert missed.id == event_id(MAC, EventKind.MISSED_DOSE, "2026-05-01T08:00")
    assert missed.evidence["grace_s"] == 600


def test_a_press_in_the_grace_span_is_taken_and_counted_once():
    clock = Clock(RuleEngine("gw-01", config([{"time": "08:00"}])), at(7, 59))
    clock.run_until(at(8, 12))
    clock.press()
    clock.run_until(at(9))
    (taken,) = clock.of(EventKind.MEDICATION_TAKEN)
    assert taken.severity is Severity.LOW  # for the record, nobody is called
    assert taken.evidence["dose"] == "2026-05-01T08:00"
    assert clock.of(EventKind.MISSED_DOSE) == []


def test_taken_a_little_early_counts_and_no_reminder_follows():
    rules = RuleEngine("gw-01", config([{"time": "08:00"}]))
    clock = Clock(rules, at(7, 40))
    clock.press()
    clock.run_until(at(9))
    assert len(clock.of(EventKind.MEDICATION_TAKEN)) == 1
    assert clock.of(EventKind.MISSED_DOSE) == []
    assert rules.take_commands() == []


def test_a_press_long_before_the_dose_is_not_taken():
    clock = Clock(RuleEngine("gw-01", config([{"time": "08:00"}])), at(6))
    clock.press()
    clock.run_until(at(9))
    assert clock.of(EventKind.MEDICATION_TAKEN) == []
    assert len(clock.of(EventKind.MISSED_DOSE)) == 1


def test_a_press_that_cancels_a_fall_is_not_also_taken():
    clock = Clock(RuleEngine("gw-01", config([{"time": "08:00"}])), at(8, 5))
    clock.run_until(at(8, 6))
    clock.press(BandEventKind.FALL_FLAG, copies=1)
    clock.press()
    assert [e.kind for e in clock.events] == [EventKind.FALL_CANCELLED]
    clock.run_until(at(8, 31))
    assert len(clock.of(EventKind.MISSED_DOSE)) == 1


def test_a_gateway_started_after_the_grace_span_says_nothing_about_the_dose():
    rules = RuleEngine("gw-01", config([{"time": "08:00"}]))
    clock = Clock(rules, at(8, 45))
    clock.run_until(at(12))
    assert clock.of(EventKind.MISSED_DOSE) == []
    assert rules.take_commands() == []


def test_doses_follow_the_local_date_across_midnight():
    rules = RuleEngine("gw-01", config([{"time": "23:50"}], grace_s=1800))
    clock = Clock(rules, at(23, 40))
    clock.run_until(at(0, 30, day=2))
    (missed,) = clock.of(EventKind.MISSED_DOSE)
    assert missed.evidence["dose"] == "2026-05-01T23:50"
    assert [c.key for c in rules.take_commands()] == ["2026-05-01T23:50"]


def test_two_gateways_report_the_same_missed_dose_under_one_id():
    a = Clock(RuleEngine("gw-01", config([{"time": "08:00"}])), at(7, 59))
    b = Clock(RuleEngine("gw-02", config([{"time": "08:00"}])), at(7, 59, 17))
    a.run_until(at(9))
    b.run_until(at(9))
    (ma,), (mb,) = a.of(EventKind.MISSED_DOSE), b.of(EventKind.MISSED_DOSE)
    assert ma.id == mb.id


def test_a_clock_step_back_does_not_repeat_a_reminder_or_a_missed_dose():
    rules = RuleEngine("gw-01", config([{"time": "08:00"}]))
    clock = Clock(rules, at(7, 59))
    clock.run_until(at(8, 31))
    assert len(rules.take_commands()) == 1
    clock.t = at(7, 58)  # the clock is stepped back over the dose time
    clock.run_until(at(8, 40))
    assert rules.take_commands() == []
    assert len(clock.of(EventKind.MISSED_DOSE)) == 1
