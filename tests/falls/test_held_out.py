"""Held-out figures: folds of subjects, several datasets, and the tuning run."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_mocks.fall_recordings import ADLS, FALLS, write_dataset
from firmware_mocks.sensor_model import SensorModel
from silverguard.cli import main
from silverguard.falls.splits import SplitError, subject_folds
from silverguard.falls.tune import GRID, Choice, choose

ALL = len(FALLS) + len(ADLS)


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    fast = tmp_path_factory.mktemp("fast")
    slow = tmp_path_factory.mktemp("slow")
    write_dataset(fast, per_activity=2, sensor=SensorModel(50.0), seed=21)
    write_dataset(slow, per_activity=2, sensor=SensorModel(20.0, rotate=True, clip_g=4.0), seed=22)
    return fast, slow


@given(
    subjects=st.lists(
        st.tuples(st.sampled_from([f"S{i}" for i in range(12)]), st.booleans()),
        min_size=1,
        max_size=80,
    ),
    k=st.integers(2, 6),
)
def test_folds_hold_whole_subjects_once(subjects: list[tuple[str, bool]], k: int):
    names = {s for s, _ in subjects}
    if len(names) < k:
        with pytest.raises(SplitError, match=f"use --folds {len(names)}"):
            subject_folds(subjects, k)
        return
    folds = subject_folds(subjects, k)
    assert len(folds) == k
    assert all(folds)  # no empty fold
    assert set().union(*folds) == names
    assert sum(len(f) for f in folds) == len(names)  # each subject in exactly one
    falls = [sum(is_fall for s, is_fall in subjects if s in f) for f in folds]
    per_subject = max((sum(f for s2, f in subjects if s2 == s) for s in names), default=0)
    assert max(falls) - min(falls) <= per_subject  # balanced up to one subject's falls


def test_split_subject_reports_each_fold(
    two_devices: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
):
    fast, _ = two_devices
    assert (
        main(["falls", "evaluate", str(fast), "--split", "subject", "--folds", "3", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    split = report["split"]
    assert split["kind"] == "subject"
    assert split["tuned"] is None
    assert len(split["per_fold"]) == 3
    assert sum(f["falls"] + f["daily_activities"] for f in split["per_fold"]) == 2 * ALL
    assert split["sensitivity"] == report["sensitivity"]  # nothing tuned: pooled is held out
    assert split["sensitivity_min"] <= split["sensitivity"] <= split["sensitivity_max"]
    assert main(["falls", "evaluate", str(fast), "--split", "subject", "--folds", "40"]) == 2
    assert "cannot fill 40 folds" in capsys.readouterr().err


def test_several_datasets_are_each_reported(
    two_devices: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
):
    fast, slow = two_devices
    assert main(["falls", "evaluate", str(fast), str(slow), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["directory"] for d in report["datasets"]] == [str(fast), str(slow)]
    assert report["datasets"][1]["band_rate_hz"] == [20.0]
    assert all(d["recordings"] == 2 * ALL for d in report["datasets"])


def test_tuning_reports_only_held_out_figures(
    two_devices: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
):
    fast, slow = two_devices
    assert main(["falls", "tune", str(fast), str(slow), "--folds", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["grid_size"] == len(GRID)
    for dataset in result["datasets"]:
        assert dataset["held_out"]["recordings"] == 2 * ALL
        assert all(f["chosen"] for f in dataset["split"]["per_fold"])
        assert dataset["held_out"]["sensitivity"] >= 0.9
    lodo = result["leave_one_dataset_out"]
    assert [lo["tuned_on"] for lo in lodo] == [[str(slow)], [str(fast)]]
    assert all(lo["held_out"]["recordings"] == 2 * ALL for lo in lodo)
    assert main(["falls", "tune", str(fast)]) == 0
    assert "Held out by subject" in capsys.readouterr().out


def test_the_choice_prefers_the_default_when_nothing_is_gained():
    class Row:
        def __init__(self, is_fall: bool) -> None:
            self.recording = type("R", (), {"is_fall": is_fall, "subject": "s"})()
            # Every choice gets every recording right: nothing to choose between.
            self.flags = [is_fall] * len(GRID)

    default = Choice(4.0, 0.4, (20.0, 60.0))
    rows = [Row(True), Row(False)]
    assert choose(rows, default) == default  # type: ignore[arg-type]
