"""The dispatch task's state machine (pure): who may move it, and where it goes."""

from datetime import UTC, datetime, timedelta

import pytest

from fleet.dispatch import tasks
from fleet.dispatch.tasks import (
    Done,
    Found,
    HeldByOther,
    Location,
    NobodyElse,
    Outcome,
    TakenBy,
    Task,
    TaskError,
    TaskState,
)
from fleet.errors import Invalid

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def accepted(by: str = "worker") -> Task:
    return tasks.accept(Task(), by, at(1))


def test_the_first_taker_owns_it_and_the_second_is_told_who():
    task = accepted("cg-1")
    assert task.state is TaskState.ACCEPTED
    assert task.owner == "cg-1"
    assert task.accepted_at == at(1)
    with pytest.raises(TakenBy) as refused:
        tasks.accept(task, "worker", at(2))
    assert refused.value.holder == "cg-1"
    assert tasks.accept(task, "cg-1", at(3)) is task  # their second link changes nothing


def test_a_task_goes_on_the_way_on_site_outcome_closed():
    task = tasks.set_off(accepted(), "worker", at(2))
    assert task.state is TaskState.ON_THE_WAY
    task = tasks.check_in(task, "worker", at(9), Location(34.8, 113.6))
    assert (task.state, task.on_site_at, task.location) == (
        TaskState.ON_SITE,
        at(9),
        Location(34.8, 113.6),
    )
    outcome = Outcome(Found.FALL_UNINJURED, frozenset({Done.HELPED_UP}), "扶起，无外伤")
    task = tasks.record_outcome(task, "worker", outcome, at(20))
    assert task.state is TaskState.OUTCOME
    assert task.outcome == outcome
    task = tasks.close(task, at(20), "outcome")
    assert task.state is TaskState.CLOSED
    assert not task.is_open


def test_checking_in_without_setting_off_counts_the_departure_then():
    task = tasks.check_in(accepted(), "worker", at(7))
    assert task.on_the_way_at == at(7)
    assert task.location is None


def test_only_the_owner_moves_it():
    task = accepted("worker")
    for move in (
        lambda: tasks.set_off(task, "cg-1", at(2)),
        lambda: tasks.check_in(task, "cg-1", at(2)),
        lambda: tasks.record_outcome(task, "cg-1", Outcome(Found.FALSE_ALARM), at(2)),
        lambda: tasks.decline(task, "cg-1", ["worker", "cg-1"], "duty", at(2)),
    ):
        with pytest.raises(HeldByOther) as refused:
            move()
        assert refused.value.holder == "worker"


def test_nothing_moves_an_offered_task_but_taking_or_assigning_it():
    with pytest.raises(HeldByOther):
        tasks.check_in(Task(), "worker", at(1))
    assert tasks.assign(Task(), "worker", at(1)).owner == "worker"


def test_i_cant_go_passes_it_to_the_next_in_the_policys_order_then_the_duty_line():
    order = ["cg-1", "worker"]
    task = tasks.decline(accepted("cg-1"), "cg-1", order, "duty", at(2))
    assert (task.owner, task.state, task.declined) == ("worker", TaskState.ACCEPTED, {"cg-1"})
    task = tasks.decline(tasks.set_off(task, "worker", at(3)), "worker", order, "duty", at(4))
    assert task.owner == "duty"
    assert task.on_the_way_at is None  # the new holder has not set off
    assert task.declined == {"cg-1", "worker"}


def test_nobody_left_keeps_the_task_with_its_owner():
    task = accepted("duty")
    with pytest.raises(NobodyElse):
        tasks.decline(task, "duty", ["duty"], "duty", at(2))


def test_after_checking_in_the_owner_cannot_decline():
    task = tasks.check_in(accepted(), "worker", at(5))
    with pytest.raises(TaskError):
        tasks.decline(task, "worker", ["cg-1"], "duty", at(6))


def test_reassigning_starts_the_new_owner_from_the_beginning():
    task = tasks.check_in(accepted("cg-1"), "cg-1", at(5))
    task = tasks.assign(task, "worker", at(6))
    assert (task.owner, task.state, task.on_site_at, task.accepted_at) == (
        "worker",
        TaskState.ACCEPTED,
        None,
        at(1),
    )


def test_a_closed_task_moves_no_more():
    task = tasks.close(accepted(), at(3), "alert_resolved")
    with pytest.raises(TaskError):
        tasks.assign(task, "worker", at(4))
    with pytest.raises(TaskError):
        tasks.check_in(task, "worker", at(4))
    assert tasks.close(task, at(5), "again") is task


@pytest.mark.parametrize(
    ("outcome", "word"),
    [
        (Outcome(Found.FALL_INJURED, frozenset({Done.AMBULANCE_120})), "hospital"),
        (Outcome(Found.FALL_UNINJURED, frozenset({Done.HELPED_UP})), "attended"),
        (Outcome(Found.FALSE_ALARM), "false_alarm"),
        (Outcome(Found.NOT_AT_HOME, frozenset({Done.CALLED_FAMILY})), "no_answer"),
    ],
)
def test_the_outcome_gives_the_alert_its_word(outcome: Outcome, word: str):
    assert outcome.alert_outcome == word


def test_bad_values_are_refused_where_they_enter():
    with pytest.raises(Invalid):
        Location(91, 0)
    with pytest.raises(Invalid):
        Outcome(Found.OTHER, note="x" * 2001)
