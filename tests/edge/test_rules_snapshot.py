"""The rules' memory across a gateway restart: stillness counted from before it, a dose
reminded before it neither reminded again nor forgotten."""

from pathlib import Path

import pytest

from contract import EventKind
from edge.rules import snapshot
from edge.rules.engine import RuleEngine
from tests.edge.test_rules_inactivity import Day
from tests.edge.test_rules_inactivity import at as day_at
from tests.edge.test_rules_inactivity import config as inactivity_config
from tests.edge.test_rules_medication import Clock
from tests.edge.test_rules_medication import at as dose_at
from tests.edge.test_rules_medication import config as dose_config


def restarted(rules: RuleEngine, data_dir: Path, now: float, fresh: RuleEngine) -> RuleEngine:
    """Save as the gateway does on the way out, then load into a new process's engine."""
    snapshot.save(data_dir, rules.snapshot(now))
    loaded = snapshot.load(data_dir)
    assert loaded is not None
    fresh.restore(loaded)
    return fresh


def test_stillness_is_counted_from_before_the_restart(tmp_path: Path):
    day = Day(RuleEngine("gw-01", inactivity_config()), day_at(1, 9))
    day.until(day_at(1, 10), moving=True)  # last moved at 10:00
    day.until(day_at(1, 11))
    day.rules = restarted(day.rules, tmp_path, day.t, RuleEngine("gw-01", inactivity_config()))
    day.until(day_at(1, 12, 30))
    (event,) = day.inactivity()
    # Two hours after 10:00, not two hours after the restart at 11:00.
    assert day_at(1, 12) <= event.detected_at <= day_at(1, 12, 2)


def test_the_time_the_gateway_was_down_is_not_counted_as_stillness(tmp_path: Path):
    day = Day(RuleEngine("gw-01", inactivity_config()), day_at(1, 9))
    day.until(day_at(1, 10), moving=True)  # last moved at 10:00
    day.until(day_at(1, 10, 30))
    snapshot.save(tmp_path, day.rules.snapshot(day.t))  # then the power goes
    loaded = snapshot.load(tmp_path)
    assert loaded is not None
    day.rules = RuleEngine("gw-01", inactivity_config())
    day.t = day_at(1, 12)  # back 90 minutes later
    day.rules.restore(loaded, day.t)
    day.until(day_at(1, 13, 25))
    assert day.inactivity() == []  # 30 min seen before + 85 min after: not yet 2 h
    day.until(day_at(1, 14))
    (event,) = day.inactivity()
    assert day_at(1, 13, 30) <= event.detected_at <= day_at(1, 13, 32)


def test_a_quick_restart_keeps_counting(tmp_path: Path):
    day = Day(RuleEngine("gw-01", inactivity_config()), day_at(1, 9))
    day.until(day_at(1, 10), moving=True)
    day.until(day_at(1, 11))
    snapshot.save(tmp_path, day.rules.snapshot(day.t))
    loaded = snapshot.load(tmp_path)
    assert loaded is not None
    day.rules = RuleEngine("gw-01", inactivity_config())
    day.t += 60  # a process restart: a minute
    day.rules.restore(loaded, day.t)
    day.until(day_at(1, 12, 30))
    (event,) = day.inactivity()
    assert day_at(1, 12) <= event.detected_at <= day_at(1, 12, 2)


def test_without_the_saved_state_the_span_would_start_again(tmp_path: Path):
    day = Day(RuleEngine("gw-01", inactivity_config()), day_at(1, 9))
    day.until(day_at(1, 10), moving=True)
    day.until(day_at(1, 11))
    day.rules = RuleEngine("gw-01", inactivity_config())  # a restart that forgot
    day.until(day_at(1, 12, 30))
    assert day.inactivity() == []


def test_a_dose_reminded_before_the_restart_is_reported_missed_after_it(tmp_path: Path):
    rules = RuleEngine("gw-01", dose_config([{"time": "08:00"}], grace_s=1800))
    clock = Clock(rules, dose_at(7, 59))
    clock.run_until(dose_at(8, 5))
    assert len(rules.take_commands()) == 1  # the reminder went out
    clock.rules = restarted(
        rules,
        tmp_path,
        clock.t,
        RuleEngine("gw-01", dose_config([{"time": "08:00"}], grace_s=1800)),
    )
    clock.run_until(dose_at(9))
    assert clock.rules.take_commands() == []  # not reminded twice
    (missed,) = clock.of(EventKind.MISSED_DOSE)
    assert missed.evidence["reminded_at"] is not None
    assert missed.evidence["reminded_at"] < dose_at(8, 5)


@pytest.mark.parametrize("content", [b"{half", b'{"v": 9, "saved_at": 1.0}', b"[]"])
def test_a_damaged_state_file_starts_the_rules_afresh(tmp_path: Path, content: bytes):
    (tmp_path / snapshot.SNAPSHOT_FILE).write_bytes(content)
    assert snapshot.load(tmp_path) is None
