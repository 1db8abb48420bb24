"""The utility-routine rules over simulated weeks of a flat's meter readings (clock injected).

The flat is firmware_mocks' daily-routine model, read every minute as the gateway
would poll its meters; a month runs in about a second.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contract import Event, EventKind, Severity, event_id
from edge.rules.routine_settings import RoutineSettings
from edge.rules.usage import UsageSummary
from edge.rules.utility import UtilityRules
from firmware_mocks.meters.usage import FlatUsage, MeterTotals

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, tzinfo=TZ).timestamp()  # a Monday, midnight
METERS = {"m-e": ("f-1", "electricity"), "m-w": ("f-1", "water")}


def at(day: int, hours: float) -> float:
    return START + day * 86400 + hours * 3600


def local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, TZ)


class Flat:
    """A flat's meters read every ``poll_s`` into the rules, with ticks in between."""

    def __init__(self, usage: FlatUsage | None = None, rules: UtilityRules | None = None) -> None:
        self.usage = usage or FlatUsage(seed=1)
        self.totals = MeterTotals(self.usage, START)
        self.rules = rules or UtilityRules("gw-01", METERS)
        self.t = START
        self.events: list[Event] = []

    def run_until(self, end: float, poll_s: float = 60.0) -> list[Event]:
        new: list[Event] = []
        while self.t < end:
            t = self.t
            new += self.rules.on_reading("m-e", t, self.totals.electricity(t))
            new += self.rules.on_reading("m-w", t, self.totals.water(t))
            if int(t) % 300 == 0:
                new += self.rules.on_tick(t)
            self.t += poll_s
        self.events += new
        return new


def kinds(events: list[Event]) -> list[str]:
    return [e.kind.value for e in events]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_four_ordinary_weeks_raise_nothing(seed: int):
    flat = Flat(FlatUsage(seed=seed))
    assert flat.run_until(at(28, 0)) == []
    summary = flat.rules.recent_usage("f-1", at(27, 20), 3600)
    assert summary == UsageSummary(water=True, power=True)  # a shower evening


def test_a_morning_with_no_water_raises_one_event():
    usage = FlatUsage(seed=1)
    usage.fall(at(14, 3.0))  # at night, before the morning routine: no water, no power
    flat = Flat(usage)
    flat.run_until(at(14, 12.0))
    no_water = [e for e in flat.events if e.kind is EventKind.NO_WATER]
    assert len(no_water) == 1
    (event,) = no_water
    assert event.severity is Severity.HIGH
    assert event.device == "m-w"
    assert event.id == event_id("m-w", EventKind.NO_WATER, "2026-03-16")
    assert event.id_matches()
    assert event.evidence["flat"] == "f-1"
    # Raised a while after the usual first use (06:05-06:55 here), not at dawn.
    assert "07:30" <= local(event.detected_at).strftime("%H:%M") <= "08:30"
    assert event.evidence["deadline"] == local(event.occurred_at).strftime("%H:%M")
    # No further no_water that day, however long it stays dry.
    flat.run_until(at(14, 23.0))
    assert kinds(flat.events).count("no_water") == 1


def test_a_stuck_tap_raises_one_event_and_nothing_else():
    usage = FlatUsage(seed=2)
    usage.tap_stuck(at(14, 15.0), at(14, 18.5))
    flat = Flat(usage)
    flat.run_until(at(15, 12.0))
    assert kinds(flat.events) == ["water_running"]
    (event,) = flat.events
    assert event.device == "m-w"
    assert event.severity is Severity.HIGH
    assert event.occurred_at == pytest.approx(at(14, 15.0), abs=60)
    assert event.detected_at - event.occurred_at == pytest.approx(3600, abs=120)
    assert event.evidence["litres"] == pytest.approx(300, abs=10)  # 5 l/min for an hour


def test_a_tap_on_at_two_polls_far_apart_is_not_a_tap_left_running():
    # Polls half an hour apart (a gateway whose bus is slow): a kitchen tap on at both
    # polls, 10 litres drawn between them, is two uses; a tap left open draws 150.
    settings = RoutineSettings(water_max_gap_s=3000.0, stale_after_s=3600.0)
    t0 = at(14, 10.0)

    def readings(litres: list[float], flows: list[float]) -> list[Event]:
        rules = UtilityRules("gw-01", METERS, settings)
        events: list[Event] = []
        for n, (volume, flow) in enumerate(zip(litres, flows, strict=True)):
            fields = {"volume_m3": 100.0 + volume / 1000, "flow_m3h": flow}
            events += rules.on_reading("m-w", t0 + 1800 * n, fields)
        return events

    assert readings([0, 0, 10, 10], [0, 0.3, 0.3, 0]) == []
    running = readings([0, 150, 300, 300], [0, 0.3, 0.3, 0])
    assert kinds(running) == ["water_running"]
    assert running[0].evidence["litres"] == pytest.approx(300)
    # At the product's one-minute polls a whole-litre register can stand still while
    # a tap runs: there the snapshot alone still counts.
    rules = UtilityRules("gw-01", METERS)
    slow: list[Event] = []
    for n in range(70):  # 0.03 m3/h is half a litre a minute
        fields = {"volume_m3": 100.0 + (n // 2) / 1000, "flow_m3h": 0.03}
        slow += rules.on_reading("m-w", t0 + 60 * n, fields)
    assert kinds(slow) == ["water_running"]


def test_a_fall_in_the_bathroom_with_the_tap_open():
    usage = FlatUsage(seed=1)
    usage.fall(at(14, 8.2), tap_left_running=True)  # after breakfast
    flat = Flat(usage)
    flat.run_until(at(14, 22.0))
    assert kinds(flat.events) == ["water_running", "no_power_use"]
    running, idle = flat.events
    assert running.detected_at - at(14, 8.2) == pytest.approx(3600, abs=120)
    assert idle.severity is Severity.MEDIUM
    assert idle.device == "m-e"
    # The idle span starts with the last use before the fall (breakfast); raised once
    # it is long (>= 3 h) and the flat would usually have been in use for 2 of those
    # hours (morning TV, cooking lunch).
    assert at(14, 6.0) <= idle.occurred_at <= at(14, 8.5)
    assert idle.detected_at - idle.occurred_at >= 3 * 3600
    assert idle.evidence["usual_use_s"] >= 2 * 3600


def test_an_afternoon_fall_is_caught_by_the_power_profile():
    usage = FlatUsage(seed=3)
    usage.fall(at(14, 15.0))
    flat = Flat(usage)
    flat.run_until(at(14, 23.5))
    assert kinds(flat.events) == ["no_power_use"]
    assert local(flat.events[0].detected_at).strftime("%H:%M") == "18:00"


def test_nothing_is_raised_during_warm_up():
    usage = FlatUsage(seed=1)
    usage.tap_stuck(at(1, 10.0), at(1, 13.0))  # a stuck tap is obvious from day one
    usage.fall(at(3, 3.0))
    flat = Flat(usage)
    flat.run_until(at(6, 23.0))
    assert kinds(flat.events) == ["water_running"]  # but "usual" needs a week to learn


@pytest.mark.parametrize("seed", [36, 44, 59])
def test_a_seldom_polled_flat_is_judged_by_its_energy_register(seed: int):
    # Meters on a long bus may be read every 20 minutes: the instant power then misses
    # a half-hour of cooking as often as not, and an ordinary day read as "no power
    # used" (these flats raised it within two weeks). The register's difference is
    # what was drawn between two readings.
    flat = Flat(FlatUsage(seed=seed))
    assert flat.run_until(at(14, 0), poll_s=1200) == []
    usage = FlatUsage(seed=seed)
    usage.fall(at(14, 15.0))  # and an afternoon fall is still caught
    flat = Flat(usage)
    flat.run_until(at(14, 23.5), poll_s=1200)
    assert "no_power_use" in kinds(flat.events)


def test_cooking_just_before_a_fall_is_no_witness_at_seldom_polls():
    # Read every 20 minutes, the register shows cooking only at the reading after it.
    # Cooking 11:26-11:28, a fall at 11:29, the next reading at 11:45: the use is
    # counted in the 11:00 window where the interval began, not in the 11:30 window
    # that began after the fall (which would tell the inactivity rule someone is about).
    flat = Flat(FlatUsage(seed=1))
    flat.run_until(at(14, 11.0))  # two weeks learned at one-minute polls
    energy = flat.totals.electricity(at(14, 11.0))["energy_kwh"]
    fall = at(14, 11.0) + 29 * 60

    def read(minutes: float, kwh: float) -> None:
        fields = {"energy_kwh": kwh, "power_w": 50.0}
        flat.rules.on_reading("m-e", at(14, 11.0) + minutes * 60, fields)

    read(5, energy)
    read(25, energy + 0.017)  # standby and the fridge: about 50 W
    energy += 0.017 + 0.06  # 1.5 kW for about 2.5 minutes, then nothing but standby
    read(45, energy + 0.017)
    for n in range(1, 7):
        read(45 + 20 * n, energy + 0.017 * (n + 1))
    now = at(14, 11.0) + 165 * 60
    assert flat.rules.recent_usage("f-1", now, now - fall).power is False


def test_no_warm_up_still_needs_one_past_morning():
    # warmup_days=0 is allowed (a site that trusts its first day); a flat with no
    # morning yet on record has no usual time, so it raises nothing and does not fail.
    rules = UtilityRules("gw-01", METERS, RoutineSettings(warmup_days=0))
    usage = FlatUsage(seed=1)
    usage.fall(at(1, 3.0))  # the second morning has no water
    flat = Flat(usage, rules)
    assert flat.run_until(at(0, 23.0)) == []  # the first day: nothing learned yet
    flat.run_until(at(1, 12.0))
    assert "no_water" in kinds(flat.events)  # one morning learned is enough for this site


def test_a_restart_from_the_saved_profile_does_not_raise_an_incident_twice():
    usage = FlatUsage(seed=1)
    usage.fall(at(14, 3.0))
    flat = Flat(usage)
    flat.run_until(at(14, 12.0))
    before = kinds(flat.events)
    assert before == ["no_water", "no_power_use"]

    restarted = UtilityRules("gw-01", METERS)
    restarted.restore(flat.rules.snapshot())
    again = Flat(usage, restarted)
    again.totals, again.t = flat.totals, flat.t  # the meters carried on counting
    assert again.run_until(at(14, 20.0)) == []  # both incidents already raised
    # And had it raised them again, the ids would have folded into the same alerts.
    fresh = Flat(usage)
    fresh.run_until(at(14, 12.0))
    assert [e.id for e in fresh.events] == [e.id for e in flat.events]


def test_recent_usage_is_the_inactivity_rules_second_witness():
    usage = FlatUsage(seed=1)
    usage.fall(at(14, 8.2))
    flat = Flat(usage)
    flat.run_until(at(14, 8.0))  # breakfast was an hour or so ago
    assert flat.rules.recent_usage("f-1", flat.t, 2 * 3600) == UsageSummary(water=True, power=True)
    flat.run_until(at(14, 11.5))
    assert flat.rules.recent_usage("f-1", flat.t, 2 * 3600) == UsageSummary(
        water=False, power=False
    )
    # No such flat, or meters that stopped reporting: no evidence either way.
    assert flat.rules.recent_usage("f-2", flat.t, 3600) == UsageSummary()
    assert flat.rules.recent_usage("f-1", flat.t + 3600, 3600) == UsageSummary()


def test_cooking_up_to_a_fall_is_no_witness_of_anyone_about_after_it():
    # Found by the district run: a resident who stopped moving during lunch had the
    # inactivity alert lowered to the digest, because the half-hour window with the
    # cooking (or the reading after it) ended after the last movement.
    usage = FlatUsage(seed=1)
    lunch = next(x for x in usage.plan(local(at(14, 0)).date()) if x.power_w == 1500.0)
    fall = lunch.start + 600  # ten minutes into the cooking
    usage.fall(fall)
    flat = Flat(usage)
    flat.run_until(fall + 3 * 3600)
    assert flat.rules.recent_usage("f-1", flat.t, flat.t - fall) == UsageSummary(
        water=False, power=False
    )


def test_a_silent_meter_is_no_evidence_of_an_empty_flat():
    usage = FlatUsage(seed=1)
    flat = Flat(usage)
    flat.run_until(at(14, 0.0))
    # The meters stop reporting for a day (meter_offline's business), then resume.
    flat.t = at(15, 0.0)
    flat.totals.advance(flat.t)
    assert flat.run_until(at(16, 23.0)) == []


def test_thresholds_come_from_settings():
    usage = FlatUsage(seed=2)
    usage.tap_stuck(at(8, 15.0), at(8, 15.75))  # 45 minutes
    strict = UtilityRules("gw-01", METERS, RoutineSettings(water_running_s=1800))
    flat = Flat(usage, strict)
    flat.run_until(at(9, 0.0))
    assert kinds(flat.events) == ["water_running"]
    assert Flat(usage).run_until(at(9, 0.0)) == []  # the default hour is not reached


def test_a_snapshot_from_another_version_is_refused():
    with pytest.raises(ValueError, match="version"):
        UtilityRules("gw-01", METERS).restore({"v": 99})


def test_water_day_starts_at_four_in_the_morning():
    rules = UtilityRules("gw-01", METERS)
    night = local(at(3, 2.0))
    assert (
        rules.water.water_day(night.timestamp())[0]
        == (night - timedelta(days=1)).date().isoformat()
    )
    assert rules.water.water_day(at(3, 5.0)) == ((local(at(3, 0))).date().isoformat(), 3600.0)
