"""Incidents, follow-ups, digests and escalation against the real databases (SQLite and
PostgreSQL), with the clock in the test's hand."""

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import time, timedelta
from typing import TypeVar

import msgspec
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contract import EventKind, Severity
from fleet.alerts import digest, service
from fleet.alerts.escalator import Escalator
from fleet.db.models import (
    Alert,
    AlertLog,
    Delivery,
    DigestEntry,
    DispatchTask,
    EscalationTimer,
    EventRecord,
    Grid,
)
from fleet.db.session import make_engine, make_sessionmaker
from fleet.dispatch import store as dispatch
from tests.fleet.alerting_seed import T0, Clock, band_event, seed

T = TypeVar("T")

SHORT = {
    "steps": [
        {"after_s": 0, "targets": ["caregivers"]},
        {"after_s": 300, "targets": ["grid_worker"]},
        {"after_s": 600, "targets": ["duty_line"]},
    ],
    "repeat_every_s": 900,
}


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def together(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls in threads released at the same moment; raise what any raised."""
    barrier = threading.Barrier(len(calls))
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], T]) -> None:
        try:
            barrier.wait()
            result = call()
            with lock:
                results.append(result)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


def record(sessions: sessionmaker[Session], event, at=T0) -> service.Recorded:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        return service.record_event(session, event, at, instance="test")


def actions(sessions: sessionmaker[Session], alert_id: int) -> list[str]:
    """The alert's own timeline; its dispatch task's lines (task_*) are
    tests/fleet/test_dispatch_api.py's."""
    with sessions() as session:
        return [
            action
            for action in session.execute(
                select(AlertLog.action).where(AlertLog.alert_id == alert_id).order_by(AlertLog.id)
            ).scalars()
            if not action.startswith("task_")
        ]


def deliveries(sessions: sessionmaker[Session], alert_id: int) -> list[tuple[int, int, str, str]]:
    with sessions() as session:
        return [
            (d.round or 0, d.step or 0, d.caregiver_id, d.target or "")
            for d in session.execute(
                select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.id)
            ).scalars()
        ]


def test_a_fall_opens_one_alert_and_calls_the_caregivers_at_once(sessions):
    with sessions.begin() as session:
        s = seed(session, channels={"cg-1": ["json://127.0.0.1:9/a", "ntfy://topic-a"]})
    recorded = record(sessions, band_event(s.bands["r-1"]))
    assert recorded.new_alert
    assert recorded.disposition == "opened"
    assert recorded.deliveries == 2  # one per channel
    assert deliveries(sessions, recorded.alert_id) == [
        (0, 0, "cg-1", "caregivers"),
        (0, 0, "cg-1", "caregivers"),
    ]
    with sessions() as session:
        alert = session.get_one(Alert, recorded.alert_id)
        assert alert.incident == "emergency"
        assert alert.community_id == "c-xingfu"
        assert alert.policy is not None  # the default, snapshot
        timer = session.execute(
            select(EscalationTimer).where(EscalationTimer.status == "pending")
        ).scalar_one()
        # The default policy: the grid worker 5 minutes after the alert opened.
        assert (timer.round, timer.step, timer.due_at) == (0, 1, T0 + timedelta(minutes=5))
        channels = {d.channel_scheme for d in session.execute(select(Delivery)).scalars()}
        assert channels == {"json", "ntfy"}
    assert actions(sessions, recorded.alert_id) == ["opened", "escalated"]


def test_copies_and_follow_up_events_fold_into_the_open_alert(sessions):
    with sessions.begin() as session:
        s = seed(session)
    band = s.bands["r-1"]
    fall = record(sessions, band_event(band, EventKind.FALL, key=10))
    # The same event from a second gateway: stored once, nothing new.
    copy = record(sessions, band_event(band, EventKind.FALL, key=10, gateway="gw-02"))
    assert not copy.new_event
    assert copy.alert_id == fall.alert_id
    # She presses SOS while the fall alert is open, then again.
    sos = record(sessions, band_event(band, EventKind.SOS, key=11))
    again = record(sessions, band_event(band, EventKind.SOS, key=12))
    assert sos.alert_id == again.alert_id == fall.alert_id
    assert (sos.disposition, sos.new_alert, sos.deliveries) == ("folded", False, 0)
    # A late cancel press attaches to the fall but does not stop anyone being called.
    cancel = record(
        sessions, band_event(band, EventKind.FALL_CANCELLED, key=13, severity=Severity.LOW)
    )
    assert (cancel.alert_id, cancel.disposition) == (fall.alert_id, "follow_up")
    with sessions() as session:
        assert session.execute(select(Alert)).scalars().all().__len__() == 1
        pending = (
            session.execute(select(EscalationTimer).where(EscalationTimer.status == "pending"))
            .scalars()
            .all()
        )
        assert len(pending) == 1
        assert {
            e.disposition
            for e in session.execute(
                select(EventRecord).where(EventRecord.alert_id == fall.alert_id)
            ).scalars()
        } == {"opened", "folded", "follow_up"}
    assert actions(sessions, fall.alert_id) == [
        "opened",
        "escalated",
        "folded",
        "folded",
        "follow_up",
    ]
    # Once resolved, the next SOS is a new incident.
    with sessions.begin() as session:
        service.resolve(
            session, fall.alert_id, actor="staff:w", outcome="attended", note="", now=T0
        )
    later = record(sessions, band_event(band, EventKind.SOS, key=20))
    assert later.new_alert
    assert later.alert_id != fall.alert_id


def test_inactivity_and_an_emergency_are_separate_incidents(sessions):
    with sessions.begin() as session:
        s = seed(session)
    band = s.bands["r-1"]
    still = record(sessions, band_event(band, EventKind.INACTIVITY, severity=Severity.HIGH))
    water = record(sessions, band_event(band, EventKind.NO_WATER, severity=Severity.MEDIUM))
    fall = record(sessions, band_event(band, EventKind.FALL, key=2))
    assert still.new_alert
    assert fall.new_alert
    assert water.alert_id == still.alert_id  # no water either: the same worry
    assert fall.alert_id != still.alert_id


def test_taken_press_resolves_the_missed_dose_alert(sessions):
    with sessions.begin() as session:
        s = seed(session)
    band = s.bands["r-1"]
    missed = record(sessions, band_event(band, EventKind.MISSED_DOSE, severity=Severity.MEDIUM))
    taken = record(sessions, band_event(band, EventKind.MEDICATION_TAKEN, severity=Severity.LOW))
    assert taken.alert_id == missed.alert_id
    with sessions() as session:
        alert = session.get_one(Alert, missed.alert_id)
        assert alert.state == "resolved"
        assert alert.outcome == "resolved_by_resident"
        assert alert.acknowledged_at is None  # nobody responded: not counted as a response
        assert (
            session.execute(
                select(EscalationTimer).where(EscalationTimer.status == "pending")
            ).all()
            == []
        )
    # A "taken" press with nothing open is only recorded.
    alone = record(
        sessions, band_event(band, EventKind.MEDICATION_TAKEN, key=5, severity=Severity.LOW)
    )
    assert (alone.alert_id, alone.disposition) == (None, "recorded")


def test_each_dose_missed_is_news_even_while_the_last_ones_alert_is_open(sessions):
    # Found by the district ledger: the morning's alert was acknowledged but nobody
    # resolved it, and the evening's missed pills folded into it without a word.
    with sessions.begin() as session:
        s = seed(session)
    band = s.bands["r-1"]

    def dose(kind: EventKind, at: str, key: int) -> service.Recorded:
        severity = Severity.MEDIUM if kind is EventKind.MISSED_DOSE else Severity.LOW
        return record(
            sessions, band_event(band, kind, key=key, severity=severity, evidence={"dose": at})
        )

    morning = dose(EventKind.MISSED_DOSE, "2026-05-04T08:00", 1)
    with sessions.begin() as session:
        service.acknowledge(session, morning.alert_id, "contact:cg-1", T0)
    again = dose(EventKind.MISSED_DOSE, "2026-05-04T08:00", 2)  # another gateway's view
    evening = dose(EventKind.MISSED_DOSE, "2026-05-04T19:30", 3)
    assert again.alert_id == morning.alert_id
    assert evening.new_alert
    assert evening.alert_id != morning.alert_id
    # "Taken" for the evening pills resolves the evening's alert, not the morning's.
    taken = dose(EventKind.MEDICATION_TAKEN, "2026-05-04T19:30", 4)
    assert taken.alert_id == evening.alert_id
    with sessions() as session:
        assert session.get_one(Alert, evening.alert_id).state == "resolved"
        assert session.get_one(Alert, morning.alert_id).state == "acknowledged"


def test_an_alert_that_becomes_critical_gets_its_task(sessions):
    with sessions.begin() as session:
        s = seed(session)
    band = s.bands["r-1"]
    worry = record(sessions, band_event(band, EventKind.INACTIVITY, severity=Severity.HIGH))
    with sessions() as session:
        assert dispatch.task_of_alert(session, worry.alert_id) is None  # nobody sent yet
    record(sessions, band_event(band, EventKind.INACTIVITY, key=2, severity=Severity.CRITICAL))
    record(sessions, band_event(band, EventKind.INACTIVITY, key=3, severity=Severity.CRITICAL))
    with sessions() as session:
        task = dispatch.task_of_alert(session, worry.alert_id)
        assert task is not None
        assert task.state == "offered"
        assert session.get_one(Alert, worry.alert_id).severity == "critical"
        tasks = session.execute(select(DispatchTask).where(DispatchTask.alert_id == worry.alert_id))
        assert len(tasks.all()) == 1


def test_moving_again_stops_an_inactivity_escalation(sessions):
    with sessions.begin() as session:
        s = seed(session)
    still = record(
        sessions, band_event(s.bands["r-1"], EventKind.INACTIVITY, severity=Severity.HIGH)
    )
    with sessions.begin() as session:
        assert service.activity_resumed(session, still.alert_id, T0 + timedelta(minutes=2), "t")
    with sessions.begin() as session:
        # Once only.
        assert not service.activity_resumed(session, still.alert_id, T0, "t")
        alert = session.get_one(Alert, still.alert_id)
        assert alert.state == "open"  # a person still closes it
    assert actions(sessions, still.alert_id)[-2:] == ["follow_up", "escalation_stopped"]
    clock = Clock(T0 + timedelta(minutes=20))
    assert Escalator(sessions, instance="a", clock=clock).tick() == 0


def test_a_fall_another_gateway_saw_cancelled_in_time_opens_no_alert(sessions):
    """Two gateways hear the fall flag; one hears the cancel press inside the window,
    the other misses it and raises the fall at the window's end (found by the district
    ledger): the resident cancelled, so no one is called."""
    with sessions.begin() as session:
        s = seed(session)
    band = s.bands["r-1"]
    cancel = band_event(band, EventKind.FALL_CANCELLED, key=870, severity=Severity.LOW)
    assert record(sessions, cancel).disposition == "digest"
    late = record(sessions, band_event(band, EventKind.FALL, key=870, gateway="gw-02"))
    assert (late.new_alert, late.disposition) == (False, "digest")
    # A later fall of the same band (another flag) still opens an alert.
    assert record(sessions, band_event(band, EventKind.FALL, key=871)).new_alert


def test_low_priority_kinds_wait_for_one_digest_a_day(sessions):
    with sessions.begin() as session:
        s = seed(session, channels={"cg-1": ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"]})
    band = s.bands["r-1"]
    battery = record(sessions, band_event(band, EventKind.LOW_BATTERY, severity=Severity.MEDIUM))
    near_miss = record(sessions, band_event(band, EventKind.FALL_CANCELLED, severity=Severity.LOW))
    assert (battery.disposition, battery.alert_id) == ("digest", None)
    assert near_miss.disposition == "digest"  # no fall open: a near-miss
    nine = time(9, 0)
    # T0 is 10:00 local; entries made before 09:00 the next day go out then.
    with sessions.begin() as session:
        assert digest.make_due(session, T0 + timedelta(hours=22), nine) == 0  # 08:00
    with sessions.begin() as session:
        assert digest.make_due(session, T0 + timedelta(hours=23, minutes=1), nine) == 2
    with sessions.begin() as session:
        assert digest.make_due(session, T0 + timedelta(hours=23, minutes=30), nine) == 0
        entries = session.execute(select(DigestEntry)).scalars().all()
        assert len(entries) == 2
        assert all(e.digest_id is not None for e in entries)
    # A critical device event is not batched.
    critical = record(
        sessions, band_event(band, EventKind.NOT_SEEN, key=9, severity=Severity.CRITICAL)
    )
    assert critical.new_alert


def test_an_unacknowledged_alert_escalates_step_by_step_until_acknowledged(sessions):
    with sessions.begin() as session:
        seed(session, policy=SHORT)
    clock = Clock()
    escalator = Escalator(sessions, instance="a", clock=clock)
    opened = record(sessions, band_event("C2:00:00:00:00:01"))
    clock.advance(299)
    assert escalator.tick() == 0
    clock.advance(1)
    assert escalator.tick() == 1
    clock.advance(300)
    assert escalator.tick() == 1
    clock.advance(300)  # 15 minutes: everything again
    assert escalator.tick() == 1
    assert deliveries(sessions, opened.alert_id) == [
        (0, 0, "cg-1", "caregivers"),
        (0, 1, "gw-worker", "grid_worker"),
        (0, 2, "duty", "duty_line"),
        (1, 0, "cg-1", "caregivers"),
    ]
    with sessions.begin() as session:
        service.acknowledge(session, opened.alert_id, "contact:gw-worker", clock.now)
    clock.advance(3600)
    assert escalator.tick() == 0
    assert actions(sessions, opened.alert_id)[-2:] == ["acknowledged", "escalation_stopped"]
    assert escalator.fired == 3


def test_a_step_that_reaches_nobody_does_not_wait(sessions):
    with sessions.begin() as session:
        seed(session, policy=SHORT)
        session.get_one(Grid, "g-1").worker_id = None
    clock = Clock()
    escalator = Escalator(sessions, instance="a", clock=clock)
    opened = record(sessions, band_event("C2:00:00:00:00:01"))
    clock.advance(300)
    escalator.tick()  # the grid step finds nobody ...
    escalator.tick()  # ... so the duty line is called now, not at 600 s
    assert [d[2] for d in deliveries(sessions, opened.alert_id)] == ["cg-1", "duty"]
    assert "no_contact" in actions(sessions, opened.alert_id)


def test_after_an_outage_everyone_is_called_once_not_once_per_missed_round(sessions):
    with sessions.begin() as session:
        seed(session, policy=SHORT)
    clock = Clock()
    escalator = Escalator(sessions, instance="a", clock=clock)
    opened = record(sessions, band_event("C2:00:00:00:00:01"))
    clock.advance(3 * 3600)  # every fleet instance was down for three hours
    for _ in range(5):
        escalator.tick()
    called = [d[2] for d in deliveries(sessions, opened.alert_id)]
    assert called == ["cg-1", "gw-worker", "duty", "cg-1"]


def test_two_instances_fire_each_step_exactly_once(sessions):
    with sessions.begin() as session:
        s = seed(session, residents=12, policy=SHORT)
    clock = Clock()
    for rid, band in s.bands.items():
        record(sessions, band_event(band, key=int(rid.split("-")[1])))
    instances = [Escalator(sessions, instance=name, clock=clock) for name in ("a", "b")]
    for _ in range(7):  # two rounds and a bit, every instance racing at each moment
        clock.advance(150)
        together([e.tick for e in instances])
    with sessions() as session:
        fired = Counter(
            (entry.alert_id, entry.detail["round"], entry.detail["step"])
            for entry in session.execute(
                select(AlertLog).where(AlertLog.action == "escalated")
            ).scalars()
        )
        made = Counter(
            (d.alert_id, d.round, d.step, d.caregiver_id)
            for d in session.execute(select(Delivery)).scalars()
        )
    assert set(fired.values()) == {1}
    assert set(made.values()) == {1}
    # By 1050 s: step 0 at once, then 300 s, 600 s and 900 s (round 2 starts); 1200 s is not due.
    assert len(fired) == 12 * 4
    assert sum(e.fired for e in instances) == 12 * 3


def test_two_instances_racing_on_one_incident_open_one_alert(sessions):
    with sessions.begin() as session:
        s = seed(session, residents=8)
    results: list[service.Recorded] = []
    for n, band in enumerate(s.bands.values(), start=1):
        # Two gateways decide two different events of one incident at the same moment,
        # and two fleet instances store them at the same moment.
        events = [band_event(band, kind, key=n) for kind in (EventKind.FALL, EventKind.SOS)]
        results += together([lambda e=e: record(sessions, e) for e in events])
    with sessions() as session:
        per_resident = Counter(session.execute(select(Alert.resident_id)).scalars())
    assert per_resident == dict.fromkeys(s.residents, 1)
    assert sorted(r.disposition for r in results) == ["folded"] * 8 + ["opened"] * 8


def test_a_gateway_sms_counts_as_the_caregivers_step_and_escalation_goes_on(sessions):

    with sessions.begin() as session:
        seed(session, policy=SHORT)
    clock = Clock()
    escalator = Escalator(sessions, instance="a", clock=clock)
    texted = msgspec.structs.replace(band_event("C2:00:00:00:00:01"), notified_locally=True)
    opened = record(sessions, texted)
    assert opened.new_alert
    assert deliveries(sessions, opened.alert_id) == []  # the caregivers are not texted again
    with sessions() as session:
        alert = session.get_one(Alert, opened.alert_id)
        assert alert.state == "notified"
        assert alert.notified_at == T0
    assert actions(sessions, opened.alert_id) == ["opened", "notified_locally"]
    clock.advance(300)  # nobody acknowledged: the grid worker is called on time
    assert escalator.tick() == 1
    assert deliveries(sessions, opened.alert_id) == [(0, 1, "gw-worker", "grid_worker")]
