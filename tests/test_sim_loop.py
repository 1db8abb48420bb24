"""The closed loop's script (pure): the phones read the task the fleet's own code writes,
travel times keep the district's promise mostly but not always, and the drift the
script writes is what the fleet's own rules call a risk."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker

from fleet.alerts.ack_link import LinkSigner
from fleet.dispatch.task_link import TaskAction, TaskLinkSigner
from fleet.notify import task_templates
from fleet.notify.dispatcher import Dispatcher
from fleet.risk import activity
from fleet.risk.tags import load as load_tags
from silverguard.sim import loop
from silverguard.sim.district import SEED_FILE, build, read_district_file
from silverguard.sim.scenario import DOSE_GRACE_S, ZONE, Timing, plan_incidents

DISTRICT = build(read_district_file(SEED_FILE), 1)
START = datetime(2026, 12, 6, 6, 0, tzinfo=ZONE).timestamp()
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _assigned(purpose: str = "assigned") -> str:
    dispatcher = Dispatcher(
        sessionmaker(),
        instance="t",
        public_url="https://fleet.example.org",
        links=LinkSigner(b"k" * 32, timedelta(hours=24)),
        task_links=TaskLinkSigner(b"t" * 32, timedelta(hours=24)),
    )
    links = task_templates.TaskLinks(
        *(dispatcher.task_url(42, "gw-worker-1", a, NOW) for a in TaskAction)
    )
    message = task_templates.render_task(
        locale="zh-CN",
        purpose=purpose,
        kind="fall",
        resident_name="居民1",
        where="幸福社区 3号楼201",
        holder="网格员",
        links=links if purpose == "assigned" else None,
    )
    return message.body


def test_the_phone_finds_its_task_in_the_message_the_fleet_writes():
    visit = loop.visit_of("gw-worker-1", _assigned(), 1000.0, seed=1)
    assert visit is not None
    assert visit.task == 42
    assert "/task/t1.42.gw-worker-1.checkin." in visit.check_in
    assert "/task/t1.42.gw-worker-1.outcome." in visit.outcome
    assert visit.accepted_at == 1000.0
    # "Someone else took it" asks nobody to go.
    assert loop.visit_of("gw-worker-1", _assigned("taken"), 1000.0, seed=1) is None


def test_travel_times_keep_the_promise_mostly_but_not_always():
    times = [loop.travel_s(f"c-{i}", seed=1) for i in range(500)]
    within = sum(t <= loop.TARGET_S for t in times) / len(times)
    assert 0.75 < within < 0.97
    assert all(3 * 60 <= t <= 40 * 60 for t in times)
    assert loop.travel_s("c-1", seed=1) == loop.travel_s("c-1", seed=1)
    assert loop.travel_s("c-1", seed=1) != loop.travel_s("c-1", seed=2)


def _drift(days: float) -> loop.Drift:
    timing = Timing(300.0)
    return loop.plan_drift(
        DISTRICT,
        1,
        START,
        START + days * 86400,
        evaluated_every_s=9000.0,
        grace_s=DOSE_GRACE_S,
        slack_s=timing.slack_s,
    )


def test_only_the_tags_a_run_is_long_enough_to_see_are_expected():
    short = _drift(0.4)  # 06:00 to 15:36: no evening dose
    assert {e.tag for e in short.expected} == {"activity_declining"}
    assert short.missed == []
    day = _drift(1.0)
    assert {e.tag for e in day.expected} == {"activity_declining", "missed_doses"}
    missing = [e for e in day.expected if e.tag == "missed_doses"]
    for e in missing:
        doses = [m for m in day.missed if m.resident.id == e.resident]
        assert len(doses) == 2  # both of the day's doses
        assert e.by > max(m.at for m in doses) + DOSE_GRACE_S
    # The tags the script expects exist in the fleet's table of tags.
    assert {e.tag for e in day.expected} <= {t.id for t in load_tags()}


def test_drifting_residents_get_no_other_incident():
    small = build(read_district_file(SEED_FILE), 1, residents=24)
    drift = loop.plan_drift(
        small, 1, START, START + 86400, evaluated_every_s=9000.0, grace_s=1800.0, slack_s=0.0
    )
    assert drift.residents

    def chosen(exclude: frozenset[str]) -> set[str]:
        args = (small, 1, START, START + 86400, Timing(300.0))
        planned, _ = plan_incidents(*args, exclude=exclude)
        return {p.resident.id for p in planned if p.resident}

    assert chosen(frozenset()) & drift.residents  # in so small a place they would meet
    assert not chosen(drift.residents) & drift.residents


def test_the_written_history_is_a_decline_by_the_fleets_own_rule():
    drift = _drift(0.4)
    (threshold,) = [t.threshold for t in load_tags() if t.id == "activity_declining"]
    offset = timedelta(hours=8)
    now = datetime.fromtimestamp(START + 4 * 3600, UTC)
    for points in drift.history.values():
        days: dict[datetime, list[int]] = defaultdict(list)
        for at, steps in points:
            local = datetime.fromtimestamp(at, UTC) + offset
            days[local.replace(hour=0, minute=0, second=0) - offset].append(steps)
        spread = [(day, float(max(v) - min(v))) for day, v in days.items()]
        ratio = activity.ratio(spread, now, offset)
        assert ratio is not None
        assert ratio < float(threshold)
    line = loop.history_lines(drift.history).splitlines()[0].decode()
    assert line.startswith("wristband,device=C2:")
    assert " steps=" in line
    assert line.split(" ")[1].endswith("i")


def test_a_tag_begun_after_its_day_is_not_found():
    expected = [loop.TagExpected("r-1", "missed_doses", START + 3600)]
    held_today = {"r-1": [{"tag": "missed_doses", "since": "2026-12-06"}]}
    held_late = {"r-1": [{"tag": "missed_doses", "since": "2026-12-07"}]}
    other = {"r-1": [{"tag": "fell_recently", "since": "2026-12-06"}]}
    assert loop.tags_found(expected, held_today) == 1
    assert loop.tags_found(expected, held_late) == 0
    assert loop.tags_found(expected, other) == 0
