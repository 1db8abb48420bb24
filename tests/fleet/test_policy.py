"""Escalation policies: what a policy may say, and when each step is due (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from fleet.alerts.policy import (
    DEFAULT_POLICY,
    EscalationPolicy,
    PolicyError,
    Position,
    Step,
)

OPENED = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)


def test_the_default_calls_family_then_grid_worker_then_duty_line_every_quarter_hour():
    policy = DEFAULT_POLICY
    firings = []
    position = Position(0, 0)
    for _ in range(7):
        firings.append(
            (policy.offset(position).total_seconds() / 60, policy.steps[position.step].targets)
        )
        position = policy.following(position)
    assert firings == [
        (0, ("caregivers",)),
        (5, ("grid_worker",)),
        (10, ("duty_line",)),
        (15, ("caregivers",)),
        (20, ("grid_worker",)),
        (25, ("duty_line",)),
        (30, ("caregivers",)),
    ]


@pytest.mark.parametrize(
    ("steps", "repeat", "message"),
    [
        ((), 900, "at least one step"),
        ((Step(60, ("caregivers",)),), 900, "step 1 must have after_s 0"),
        ((Step(0, ("caregivers",)), Step(0, ("duty_line",))), 900, "later than the step before"),
        ((Step(0, ("caregivers",)), Step(600, ("duty_line",))), 600, "repeat_every_s"),
        ((Step(0, ()),), 900, "1 to 10 targets"),
        ((Step(0, ("neighbours",)),), 900, "not one of"),
        ((Step(0, ("contact:",)),), 900, "not one of"),
        (tuple(Step(i, ("caregivers",)) for i in range(11)), 900, "at most 10 steps"),
    ],
)
def test_a_policy_that_cannot_work_is_refused_with_the_reason(steps, repeat, message):
    with pytest.raises(PolicyError, match=message):
        EscalationPolicy(steps, repeat)


def test_json_round_trip_and_bad_json():
    policy = EscalationPolicy(
        (Step(0, ("caregivers", "contact:c-duty")), Step(120, ("grid_worker",))), 300
    )
    assert EscalationPolicy.from_json(policy.to_json()) == policy
    with pytest.raises(PolicyError):
        EscalationPolicy.from_json({"steps": "nope"})
    with pytest.raises(PolicyError):
        EscalationPolicy.from_json({})


def test_catch_up_skips_whole_missed_rounds_only():
    policy = DEFAULT_POLICY
    late = Position(0, 2)  # due at 10 min
    assert policy.catch_up(OPENED, late, OPENED + timedelta(minutes=20)) == late
    caught = policy.catch_up(OPENED, late, OPENED + timedelta(hours=2))
    assert caught.step == 2
    assert policy.due_at(OPENED, caught) <= OPENED + timedelta(hours=2)
    assert policy.due_at(OPENED, caught) > OPENED + timedelta(hours=2) - timedelta(minutes=15)
