"""The district's script (pure): which incidents fit a run, at home only, the doses
taken or expected missed, and the deadlines at speed."""

from datetime import datetime

from silverguard.sim.district import SEED_FILE, build, read_district_file
from silverguard.sim.scenario import (
    DOSE_GRACE_S,
    PER_DAY,
    ZONE,
    Kind,
    Timing,
    dose_presses,
    expectation,
    plan_incidents,
)

DISTRICT = build(read_district_file(SEED_FILE), 1)
START = datetime(2026, 12, 6, 6, 0, tzinfo=ZONE).timestamp()
DAY = 86400.0


def test_the_seed_district_is_the_one_the_issue_describes():
    assert len({c.town_id for c in DISTRICT.communities}) == 8
    assert len(DISTRICT.communities) == 76
    assert len(DISTRICT.gateways) == 12
    assert len(DISTRICT.residents) == 867
    alone = sum(r.lives_alone for r in DISTRICT.residents) / 867
    doses = sum(bool(r.doses) for r in DISTRICT.residents) / 867
    assert 0.45 < alone < 0.65
    assert 0.4 < doses < 0.6
    # Every community is covered by two gateways (the overlap).
    assert all(len(c.gateways) == 2 for c in DISTRICT.communities)
    assert build(read_district_file(SEED_FILE), 1, residents=80).residents[0].id == "r-000001"
    assert len(build(read_district_file(SEED_FILE), 1, residents=80).residents) == 80


def test_a_day_holds_every_kind_and_only_what_fits():
    planned, skipped = plan_incidents(DISTRICT, 1, START, START + DAY, Timing(300))
    kinds = {p.kind for p in planned}
    # Mornings without water and afternoons without power need the meters' learned
    # routine (tests/test_sim_meters.py); without meters they are not planned.
    assert kinds == set(PER_DAY) - {Kind.NO_WATER, Kind.NO_POWER}
    assert len(skipped) == PER_DAY[Kind.MISSED_DOSE]
    residents = [p.resident.id for p in planned if p.resident]
    assert len(residents) == len(set(residents))  # one incident per resident a day
    # A shortened run keeps only incidents whose alert is due before it ends.
    short, _ = plan_incidents(DISTRICT, 1, START, START + 0.2 * DAY, Timing(300))
    assert short
    assert all(p.at < START + 0.2 * DAY for p in short)
    # Until 10:48: no inactivity (3 h from 09:30 at the earliest) and no outage.
    assert not {p.kind for p in short} & {Kind.INACTIVITY, Kind.GATEWAY_OFFLINE}


def test_incidents_happen_at_home():
    away = {"r-000001", "r-000002"}
    planned, _ = plan_incidents(
        DISTRICT, 1, START, START + DAY, Timing(300), at_home=lambda r, _t: r not in away
    )
    assert not {p.resident.id for p in planned if p.resident and p.kind is Kind.FALL} & away
    # Someone out for the whole grace cannot be heard pressing "taken": expected missed.
    presses, missed = dose_presses(
        DISTRICT, (1, START, START + DAY), skipped={}, at_home=lambda r, _t: r != "r-000001"
    )
    first = DISTRICT.resident("r-000001")
    assert [p.resident.id for p in missed if p.resident] == ["r-000001"] * len(first.doses)
    assert all(who != "r-000001" for _, who in presses)
    taking = sum(len(r.doses) for r in DISTRICT.residents) - len(first.doses)
    assert len(presses) == taking
    for when, who in presses:
        due = min(
            abs(
                when
                - datetime(2026, 12, 6, int(d.time[:2]), int(d.time[3:]), tzinfo=ZONE).timestamp()
            )
            for d in DISTRICT.resident(who).doses
        )
        assert 60 <= due < DOSE_GRACE_S


def test_deadlines_allow_wall_time_at_speed():
    slow, fast = Timing(1), Timing(300)
    assert slow.slack_s == 185
    assert fast.slack_s == 180 + 5 * 300
    assert slow.offline_alert_s == 300  # the fleet's default at real time
    assert fast.offline_alert_s == 15 * 300
    planned, _ = plan_incidents(DISTRICT, 1, START, START + DAY, fast)
    no_ack = next(p for p in planned if p.kind is Kind.NO_ACK)
    expected = expectation(no_ack, DISTRICT, fast)
    assert no_ack.resident is not None
    contacts = [r.contacts for r in expected.reach]
    assert contacts == [
        (no_ack.resident.caregiver_id,),
        (DISTRICT.grid_worker(no_ack.resident),),
        (DISTRICT.duty_lines[no_ack.resident.community_id],),
    ]
    assert [r.within_s for r in expected.reach] == [1680, 1980, 2280]


def test_nothing_else_is_judged_while_the_broker_restarts():
    timing = Timing(300)
    planned, _ = plan_incidents(DISTRICT, 1, START, START + 3 * DAY, timing)
    restarts = [p for p in planned if p.kind is Kind.BROKER_RESTART]
    assert len(restarts) == 3
    for restart in restarts:
        until = restart.at + timing.broker_down_s + 15 * 300
        assert not [p for p in planned if p is not restart and restart.at - 120 <= p.at <= until]
