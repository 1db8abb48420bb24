"""Choosing the band's thresholds on some people, and measuring them on others.

A site with recordings it is licensed to use may adjust three thresholds of the band's
fall detector, each within physical bounds (:data:`GRID`): the flag score (58-75 % of
the evidence), the activity veto after the impact (from walking-level 0.3 g to
jogging-level 0.5 g), and the posture anchors (a 15-25 degree turn is arm swing, a
50-70 degree turn is lying down). Nothing is learned beyond that choice, and nothing
learned ships.

Honest figures: every recording is judged under a choice made without it.

- ``--split subject``: the subjects of each dataset in K folds; each fold is judged with
  the choice that does best on the other folds.
- with several datasets, each dataset is judged with the choice that does best on the
  others (leave one dataset out): the figure for a device no rule has seen.

Each candidate impact's features are computed once per recording (the band firmware
only); a choice re-scores them. The held-out recordings then run end to end (band,
radio, gateway) under the choice made for them.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from firmware_mocks.fall_detector import FallEvidence
from firmware_mocks.fall_thresholds import FallThresholds
from silverguard.falls.dataset import Recording
from silverguard.falls.evaluate import Dataset, load_dataset
from silverguard.falls.replay import (
    RecordingResult,
    RunSettings,
    band_rate_for,
    candidate_evidence,
    run_recording,
)
from silverguard.falls.report import Report
from silverguard.falls.splits import FoldFigures, fold_figures, spread, subject_folds

# The targets a choice must meet (per recording, held out): the product's promise.
TARGET_SENSITIVITY = 0.92
TARGET_SPECIFICITY = 0.97


@dataclass(frozen=True, slots=True)
class Choice:
    score_to_flag: float
    active_after_g: float
    posture_deg: tuple[float, float]

    def apply(self, base: FallThresholds) -> FallThresholds:
        return replace(
            base,
            score_to_flag=self.score_to_flag,
            active_after_g=self.active_after_g,
            posture_deg=self.posture_deg,
        )

    def __str__(self) -> str:
        a, b = self.posture_deg
        return f"flag at {self.score_to_flag:g}, after-veto {self.active_after_g:g} g, posture {a:g}-{b:g} deg"

    def as_dict(self) -> dict[str, Any]:
        return {
            "score_to_flag": self.score_to_flag,
            "active_after_g": self.active_after_g,
            "posture_deg": list(self.posture_deg),
        }


GRID = tuple(
    Choice(s, a, p)
    for s, a, p in itertools.product(
        (3.5, 3.75, 4.0, 4.25, 4.5), (0.3, 0.4, 0.5), ((15.0, 50.0), (20.0, 60.0), (25.0, 70.0))
    )
)


@dataclass(slots=True)
class _Scored:
    """One recording: its subject and label, and whether each grid choice flags it."""

    recording: Recording
    flags: list[bool]


def _score_all(dataset: Dataset, settings: RunSettings, base: FallThresholds) -> list[_Scored]:
    out = []
    for recording, data in dataset.items:
        evidence: list[FallEvidence] = candidate_evidence(data, settings)
        bandwidth = min(band_rate_for(data.rate_hz, settings), data.rate_hz)
        flags = []
        for choice in GRID:
            th = choice.apply(base).for_sensor(bandwidth)
            flags.append(any(e.judged_by(th)[1] for e in evidence))
        out.append(_Scored(recording, flags))
    return out


def _margin(scored: Sequence[_Scored], k: int) -> tuple[float, float, float]:
    falls = [s for s in scored if s.recording.is_fall]
    adls = [s for s in scored if not s.recording.is_fall]
    sens = sum(s.flags[k] for s in falls) / len(falls) if falls else 1.0
    spec = sum(not s.flags[k] for s in adls) / len(adls) if adls else 1.0
    return min(sens - TARGET_SENSITIVITY, spec - TARGET_SPECIFICITY), sens, spec


def choose(scored: Sequence[_Scored], default: Choice) -> Choice:
    """The grid choice with the largest margin to both targets on ``scored``; ties go to
    the one nearest the default (fewest steps away), then to the higher specificity."""

    def steps(c: Choice) -> float:
        return (
            abs(c.score_to_flag - default.score_to_flag) / 0.25
            + abs(c.active_after_g - default.active_after_g) / 0.1
            + abs(c.posture_deg[0] - default.posture_deg[0]) / 5
        )

    def key(k: int) -> tuple[float, float, float]:
        margin, _, spec = _margin(scored, k)
        return (round(margin, 6), -steps(GRID[k]), spec)

    return GRID[max(range(len(GRID)), key=key)]


@dataclass(slots=True)
class DatasetTuning:
    directory: str
    folds: list[FoldFigures]
    held_out: Report  # every recording judged under a choice made on other subjects
    chosen_on_all: Choice  # what the site would run after tuning on all of it


@dataclass(slots=True)
class LeaveOneOut:
    held_out: Report  # one dataset judged under the choice made on the others
    chosen: Choice
    tuned_on: list[str]


@dataclass(slots=True)
class TuneResult:
    settings: RunSettings
    datasets: list[DatasetTuning]
    leave_one_dataset_out: list[LeaveOneOut] = field(default_factory=list)
    choices: int = 0  # how many threshold choices were tried (the grid's size)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tuned": ["score_to_flag", "active_after_g", "posture_deg"],
            "grid_size": len(GRID),
            "targets": {"sensitivity": TARGET_SENSITIVITY, "specificity": TARGET_SPECIFICITY},
            "fall_sensitivity": str(self.settings.sensitivity),
            "datasets": [
                {
                    "directory": d.directory,
                    "split": {
                        "kind": "subject",
                        "folds": len(d.folds),
                        **spread(d.folds),
                        "per_fold": [f.as_dict() for f in d.folds],
                    },
                    "held_out": d.held_out.as_dict(),
                    "chosen_on_all": d.chosen_on_all.as_dict(),
                }
                for d in self.datasets
            ],
            "leave_one_dataset_out": [
                {
                    "directory": lo.held_out.directory,
                    "tuned_on": lo.tuned_on,
                    "chosen": lo.chosen.as_dict(),
                    "held_out": lo.held_out.as_dict(),
                }
                for lo in self.leave_one_dataset_out
            ],
        }


def _replay(
    dataset: Dataset, settings: RunSettings, th: FallThresholds, subjects: frozenset[str] | None
) -> list[RecordingResult]:
    chosen = replace(settings, thresholds=th)
    return [
        run_recording(rec, data, chosen)
        for rec, data in dataset.items
        if subjects is None or rec.subject in subjects
    ]


def tune(directories: Sequence[Path], settings: RunSettings, *, folds: int = 5) -> TuneResult:
    base = FallThresholds.for_sensitivity(settings.sensitivity)
    default = Choice(base.score_to_flag, base.active_after_g, base.posture_deg)
    loaded = [load_dataset(d) for d in directories]
    scored = [_score_all(ds, settings, base) for ds in loaded]
    result = TuneResult(settings, [], choices=len(GRID))
    for dataset, rows in zip(loaded, scored, strict=True):
        groups = subject_folds(dataset.subjects_and_falls(), folds)
        results: list[RecordingResult] = []
        figures = []
        for i, test in enumerate(groups, start=1):
            chosen = choose([r for r in rows if r.recording.subject not in test], default)
            held = _replay(dataset, settings, chosen.apply(base), test)
            results += held
            figures.append(fold_figures(i, test, held, str(chosen)))
        report = Report(str(dataset.directory), results, dataset.refused, settings)
        result.datasets.append(
            DatasetTuning(str(dataset.directory), figures, report, choose(rows, default))
        )
    if len(loaded) > 1:
        for i, dataset in enumerate(loaded):
            others = [r for j, rows in enumerate(scored) if j != i for r in rows]
            chosen = choose(others, default)
            held = _replay(dataset, settings, chosen.apply(base), None)
            report = Report(str(dataset.directory), held, dataset.refused, settings)
            tuned_on = [str(d.directory) for j, d in enumerate(loaded) if j != i]
            result.leave_one_dataset_out.append(LeaveOneOut(report, chosen, tuned_on))
    return result
