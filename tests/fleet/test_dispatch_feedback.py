"""Outcomes feed back (pure): verdicts, field precision, the band check, rule flags."""

from datetime import UTC, datetime, timedelta

import pytest

from fleet.dispatch import feedback
from fleet.dispatch.feedback import Judged

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("found", "word", "real"),
    [
        ("fall_injured", None, True),
        ("fall_uninjured", "false_alarm", True),  # the form decides over the word
        ("false_alarm", "attended", False),
        ("not_at_home", "no_answer", None),
        ("other", None, True),
        (None, "attended", True),
        (None, "hospital", True),
        (None, "false_alarm", False),
        (None, "resolved_by_resident", None),
        (None, None, None),
    ],
)
def test_the_verdict(found, word, real):
    assert feedback.verdict(found, word) is real


def judged(kind: str, resident: str, days_ago: float, real: bool | None) -> Judged:
    return Judged(kind, resident, T0 - timedelta(days=days_ago), real)


def test_precision_per_rule_and_resident_leaves_the_unjudged_out():
    items = [
        judged("fall", "r-1", 1, True),
        judged("fall", "r-1", 2, False),
        judged("fall", "r-2", 3, False),
        judged("fall", "r-2", 3, None),
        judged("sos", "r-2", 4, True),
    ]
    by_rule = feedback.grouped(items, lambda j: j.kind)
    assert by_rule["fall"] == feedback.Precision(alerts=4, real=1, false=2, precision=0.3333)
    assert by_rule["sos"].precision == 1.0
    by_resident = feedback.grouped(items, lambda j: j.resident_id)
    assert by_resident["r-2"] == feedback.Precision(alerts=3, real=1, false=1, precision=0.5)
    assert feedback.precision([judged("fall", "r-1", 1, None)]).precision is None


def test_two_false_alarms_within_a_week_ask_for_a_band_check():
    once = [judged("fall", "r-1", 1, False), judged("fall", "r-1", 8, False)]
    assert not feedback.needs_band_check(once, "r-1", T0)
    twice = [*once, judged("sos", "r-1", 6.9, False), judged("fall", "r-2", 1, False)]
    assert feedback.needs_band_check(twice, "r-1", T0)
    assert not feedback.needs_band_check(twice, "r-2", T0)


def test_a_rule_below_the_floor_is_flagged_once_it_has_enough_alerts():
    few = {"fall": feedback.Precision(4, 0, 4, 0.0)}
    assert feedback.flag_rules(few) == []  # 4 judged: too few to say
    poor = {
        "fall": feedback.Precision(10, 2, 6, 0.25),
        "sos": feedback.Precision(10, 9, 1, 0.9),
    }
    [flag] = feedback.flag_rules(poor)
    assert (flag.rule, flag.figures.precision, flag.floor) == ("fall", 0.25, 0.5)
