"""The district's meters (pure): who has them, on which bus, the import file the fleet
accepts, the poll interval at speed, and the scripted running tap — replayed through
the gateway's own water rule at the district's poll interval."""

import csv
import io
import json
from datetime import datetime

from edge.rules.routine_settings import RoutineSettings
from edge.rules.utility import UtilityRules
from edge.rules.water_routine import WaterRoutine
from firmware_mocks.meters.usage import FlatUsage, MeterTotals
from silverguard.sim.district import SEED_FILE, build, read_district_file
from silverguard.sim.ledger import AlertSeen, Delivery, Verdict, reconcile
from silverguard.sim.meters import (
    FLATS_PER_BUS,
    HISTORY_DAYS,
    DistrictMeters,
    ScriptedFlat,
    meters_csv,
    place_meters,
    poll_interval_s,
    routine_at_speed,
    water_running_due_s,
)
from silverguard.sim.scenario import (
    PER_DAY,
    ZONE,
    Kind,
    Timing,
    expectation,
    meter_flats,
    meter_gateway,
    plan_incidents,
    script_meters,
    tap_open_s,
)

DISTRICT = build(read_district_file(SEED_FILE), 1)
START = datetime(2026, 12, 6, 6, 0, tzinfo=ZONE).timestamp()
DAY = 86400.0
RULES = RoutineSettings()


def test_every_resident_living_alone_has_two_meters_on_their_first_gateway():
    placed = place_meters(DISTRICT)
    alone = {r.id for r in DISTRICT.residents if r.lives_alone}
    assert {f.resident_id for f in placed} == alone
    first = {c.community_id: c.gateways[0] for c in DISTRICT.communities}
    assert all(f.gateway == first[f.community_id] for f in placed)
    buses: dict[int, set[str]] = {}
    addresses: dict[int, list[int]] = {}
    for f in placed:
        buses.setdefault(f.bus, set()).add(f.gateway)
        addresses.setdefault(f.bus, []).extend((f.power_address, f.water_address))
    assert all(len(g) == 1 for g in buses.values())  # a bus belongs to one gateway
    for on_bus in addresses.values():
        assert len(on_bus) == len(set(on_bus)) <= 2 * FLATS_PER_BUS
        assert all(1 <= a <= 247 for a in on_bus)


def test_the_import_file_has_the_fleets_columns_and_one_port_per_bus():
    placed = place_meters(DISTRICT)
    ports = [f"/dev/pts/{100 + i}" for i in range(max(f.bus for f in placed) + 1)]
    rows = list(csv.DictReader(io.StringIO(meters_csv(placed, ports, 1200.0).decode())))
    assert len(rows) == 2 * len(placed)
    assert {r["profile"] for r in rows} == {"sdm120", "water"}
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["parity"] == "N" and r["poll_interval_s"] == "1200" for r in rows)
    water = next(r for r in rows if r["profile"] == "water")
    flat = next(f for f in placed if f.flat == water["flat"])
    assert water["port"] == ports[flat.bus]
    assert water["gateway_id"] == flat.gateway


def test_polls_thin_with_speed_but_never_break_a_running_span():
    assert poll_interval_s(1) == 60.0  # the product's own interval
    assert routine_at_speed(1) == {
        "water_max_gap_s": 600.0,
        "stale_after_s": 900.0,
        "water_min_flow_m3h": 0.03,
    }
    assert poll_interval_s(300) == 1200.0  # 4 wall seconds
    for speed in (1, 30, 300, 3000):
        assert poll_interval_s(speed) < routine_at_speed(speed)["water_max_gap_s"]
    assert water_running_due_s(300) == RULES.water_running_s + 2 * 1200.0


def test_taps_run_in_flats_with_meters_and_each_has_a_deadline_from_the_rule():
    timing = Timing(300)
    planned, _ = plan_incidents(DISTRICT, 1, START, START + DAY, timing)
    taps = [p for p in planned if p.kind is Kind.WATER_RUNNING]
    # One may fall in the broker restart's quiet time and be left out.
    assert 1 <= len(taps) <= PER_DAY[Kind.WATER_RUNNING]
    with_meters = {r.id for r in meter_flats(DISTRICT)}
    assert all(p.resident and p.resident.id in with_meters for p in taps)
    # Not on the bus of a gateway a scripted outage stops while the tap runs.
    for tap in taps:
        assert tap.resident is not None
        for out in (p for p in planned if p.kind is Kind.GATEWAY_OFFLINE):
            if out.at < tap.at + tap_open_s(timing) and out.at + timing.outage_s > tap.at:
                assert meter_gateway(DISTRICT, tap.resident) != out.gateway
    # The resident has no other incident that day.
    others = [p.resident.id for p in planned if p.resident and p.kind is not Kind.WATER_RUNNING]
    assert not {p.resident.id for p in taps if p.resident} & set(others)
    expected = expectation(taps[0], DISTRICT, timing)
    assert taps[0].resident is not None
    assert expected.alert_kind == "water_running"
    assert expected.subject == taps[0].resident.id
    (reach,) = expected.reach
    assert reach.contacts == (taps[0].resident.caregiver_id,)
    assert reach.within_s == RULES.water_running_s + 2 * 1200.0 + timing.slack_s
    assert tap_open_s(timing) > reach.within_s - timing.slack_s


def test_a_scripted_tap_raises_water_running_in_time_through_the_gateways_rule():
    """The meter's readings at the district's poll interval, fed to the real rule."""
    usage = FlatUsage(5)
    start = START + 3 * 3600  # 09:00
    totals = MeterTotals(usage, START)
    opened = start + 1234.0
    usage.tap_stuck(opened, opened + tap_open_s(Timing(300)))
    settings = RoutineSettings(**routine_at_speed(300))
    rule = WaterRoutine(settings, "gw-01", {"m-1-w": "f-1"})
    step = poll_interval_s(300)
    t, raised = START, None
    while t < opened + 3 * RULES.water_running_s and raised is None:
        events = rule.on_reading("m-1-w", t, totals.water(t))
        raised = next((e for e in events if e.kind == "water_running"), None)
        t += step
    assert raised is not None, "the running tap was never reported"
    assert raised.detected_at - opened <= water_running_due_s(300)


def test_a_water_running_alert_past_its_deadline_is_late():
    timing = Timing(300)
    planned, _ = plan_incidents(DISTRICT, 1, START, START + DAY, timing)
    tap = next(p for p in planned if p.kind is Kind.WATER_RUNNING)
    assert tap.resident is not None
    expected = expectation(tap, DISTRICT, timing)
    (reach,) = expected.reach
    family = tap.resident.caregiver_id
    for delay, verdict in (
        (reach.within_s - 60, Verdict.MATCHED),
        (reach.within_s + 60, Verdict.LATE),
    ):
        sent = tap.at + delay
        alert = AlertSeen(1, "water_running", tap.resident.id, sent - 5, (Delivery(family, sent),))
        result = reconcile([expected], [alert], {family: [sent]})
        assert [j.verdict for j in result.judged] == [verdict]


def test_a_resident_lying_still_uses_nothing_but_a_tap_left_open_runs_on():
    flat = ScriptedFlat(3)
    day = START - 6 * 3600  # midnight
    lunch = [x for x in flat.plan(datetime.fromtimestamp(START, ZONE).date()) if x.power_w > 1000]
    assert lunch, "the plan has cooking"
    still = (day + 6 * 3600, day + 17 * 3600)
    flat.still(*still)
    assert flat.volume_m3(*still) == 0.0
    assert max(flat.power_w(t) for t in range(int(still[0]), int(still[1]), 300)) <= 8.0 + 90.0
    flat.tap_stuck(still[0] + 3600, still[0] + 7200)
    assert flat.volume_m3(*still) > 0.2  # an hour at 0.3 m3/h
    # Outside the span the day is as planned.
    assert flat.volume_m3(day + 17 * 3600, day + 24 * 3600) > 0.0


def test_ordinary_days_raise_no_water_running_at_thinned_polls():
    """Flushes, washing and cooking within a 20-minute poll are not a running tap —
    nor within the 30 minutes a gateway's poll cycle stretches to under the district's
    load (docs/district.md), where a tap on at two polls once made an "hour"."""
    settings = RoutineSettings(**routine_at_speed(300))
    raised = 0
    for step in (poll_interval_s(300), 1.5 * poll_interval_s(300)):
        for seed in range(40):
            totals = MeterTotals(FlatUsage(seed), START)
            rule = WaterRoutine(settings, "gw-01", {"m-1-w": "f-1"})
            t = START
            while t < START + 2 * DAY:
                events = rule.on_reading("m-1-w", t, totals.water(t))
                raised += sum(1 for e in events if e.kind == "water_running")
                t += step
    assert raised == 0


def test_learned_routines_make_a_dry_morning_and_a_dark_afternoon_alert_in_time(tmp_path):
    # The gateways start with HISTORY_DAYS of their flats' use learned (replayed through
    # their own rules): a morning without water and an afternoon without power are
    # then seen by the rules as the gateway runs them, by the ledger's deadlines.
    district = build(read_district_file(SEED_FILE), 1, residents=120)
    speed, timing = 300.0, Timing(300.0)
    poll = poll_interval_s(speed)
    routine = RoutineSettings(**routine_at_speed(speed))
    meters = DistrictMeters(district, lambda: START, 1, history_until=START)
    try:
        written = meters.write_learned(lambda g: tmp_path / g, routine, poll)
        ready = START - 2400  # the set-up ended a little before its estimate
        planned, _ = plan_incidents(district, 1, ready, ready + DAY, timing, meters=meters)
        quiet = [p for p in planned if p.kind in (Kind.NO_WATER, Kind.NO_POWER)]
        assert sorted(p.kind for p in quiet) == [Kind.NO_POWER, Kind.NO_WATER]
        script_meters(meters, planned, timing)
        for p in quiet:
            assert p.resident is not None
            flat = next(f for f in meters.placed if f.resident_id == p.resident.id)
            saved = json.loads((tmp_path / flat.gateway / "routine.json").read_text())
            rules = UtilityRules(
                flat.gateway,
                {flat.power_id: (flat.flat, "electricity"), flat.water_id: (flat.flat, "water")},
                routine,
            )
            rules.restore(saved["routine"])  # as the gateway's meter service does
            totals, events = meters.totals[flat.resident_id], []
            t = START + poll / 2  # the first live poll after the replayed history
            while t < START + DAY:
                events += rules.on_reading(flat.power_id, t, totals.electricity(t))
                events += rules.on_reading(flat.water_id, t, totals.water(t))
                events += rules.on_tick(t)
                t += poll
            want = "no_water" if p.kind is Kind.NO_WATER else "no_power_use"
            (event,) = [e for e in events if e.kind.value == want]
            due = expectation(p, district, timing).reach[0].within_s
            assert p.at < event.detected_at <= p.at + due - timing.slack_s
        assert written == len({f.gateway for f in meters.placed})
    finally:
        meters.stop()


def test_an_afternoon_without_power_keeps_the_water_and_the_fridge():
    flat = ScriptedFlat(5)
    noon = START + 6 * 3600
    flat.without(noon, noon + 10 * 3600, power=True)
    acts = flat.activities(noon, noon + 10 * 3600)
    assert acts
    assert all(x.power_w == 0 for x in acts)  # nothing the resident switches on
    assert any(x.flow_m3h > 0 for x in acts)  # the taps still run
    assert flat.power_w(noon + 3600) >= 8.0  # standby (and the fridge) go on


def test_the_demos_slow_speed_learns_every_full_day_too():
    # At 30x the meters are polled every 2 minutes and the water rule's gap is 10: the
    # replay reads every 10 minutes (a fifth of the work) and still joins each day
    # before it starts, so all but the first (partial) day are learned.
    district = build(read_district_file(SEED_FILE), 1, residents=40)
    meters = DistrictMeters(district, lambda: START, 1, history_until=START)
    try:
        routine = RoutineSettings(**routine_at_speed(30.0))
        saved = meters.learned(routine, poll_interval_s(30.0))
        assert saved
        assert set(meters.usual_first_use) == {f.resident_id for f in meters.placed}
        (state,) = [s for g, s in saved.items() if g == meters.placed[0].gateway]
        flat = state["routine"]["water"]["flats"][meters.placed[0].flat]
        assert len(flat["first_use"]) == HISTORY_DAYS  # the first of them partial
        assert len(flat["partial"]) == 1
    finally:
        meters.stop()
