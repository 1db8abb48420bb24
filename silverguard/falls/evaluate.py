"""Evaluating fall detection on recorded falls and daily activities.

Every readable recording of a dataset goes through band, radio and gateway
(silverguard/falls/replay.py); what cannot be read is refused per recording, with the
reason, and the run goes on with the others. A fall recording counts as detected if
the rule flagged a fall at any point; a daily-activity recording counts as a false
alarm if it did (silverguard/falls/report.py has the figures).

Nothing here is tuned: the thresholds are the band's and the gateway's for the fall
sensitivity level asked for. ``--split subject`` then gives the same pooled figures
(nothing was chosen on anybody's recordings) and how they spread over folds of
subjects; silverguard/falls/tune.py is the run that chooses thresholds, on other folds.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_mocks.fall_thresholds import FallThresholds
from silverguard.falls.dataset import DatasetError, Recording, Refusal, read_index
from silverguard.falls.recording import RecordingData, read_recording
from silverguard.falls.replay import RecordingResult, RunSettings, run_recording
from silverguard.falls.report import Report
from silverguard.falls.sensor_clock import RecordingRefused
from silverguard.falls.splits import FoldFigures, fold_figures, spread, subject_folds

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class Dataset:
    """A dataset directory as read: the usable recordings and the refused ones."""

    directory: Path
    items: list[tuple[Recording, RecordingData]]
    refused: list[Refusal]

    def subjects_and_falls(self) -> list[tuple[str, bool]]:
        return [(rec.subject, rec.is_fall) for rec, _ in self.items]


def load_dataset(directory: Path) -> Dataset:
    """Read the index and every recording; raise DatasetError only if the index itself
    cannot be read or no recording can."""
    index = read_index(directory)
    items: list[tuple[Recording, RecordingData]] = []
    refused = list(index.refused)
    for recording in index.recordings:
        try:
            items.append((recording, read_recording(recording)))
        except RecordingRefused as exc:
            reason = str(exc).removeprefix(f"{recording.file}: ")
            refused.append(Refusal(recording.file, reason))
    if not items:
        shown = "\n  ".join(str(r) for r in refused[:20])
        raise DatasetError(f"no recording of {directory} could be read:\n  {shown}")
    return Dataset(Path(directory), items, refused)


def replay_all(
    dataset: Dataset,
    settings: RunSettings,
    *,
    only: Callable[[Recording], bool] | None = None,
    progress: Progress | None = None,
) -> list[RecordingResult]:
    results = []
    items = [item for item in dataset.items if only is None or only(item[0])]
    for i, (recording, data) in enumerate(items, start=1):
        results.append(run_recording(recording, data, settings))
        if progress is not None:
            progress(i, len(items))
    return results


def evaluate_dataset(
    dataset: Dataset, settings: RunSettings, *, progress: Progress | None = None
) -> Report:
    results = replay_all(dataset, settings, progress=progress)
    return Report(str(dataset.directory), results, dataset.refused, settings)


def evaluate(
    directory: Path,
    *,
    advert_interval_s: float = 1.0,
    summary_detection: bool = True,
    skip_bad: bool = True,
    thresholds: FallThresholds | None = None,
    settings: RunSettings | None = None,
    progress: Progress | None = None,
) -> Report:
    """Evaluate every readable recording of a dataset directory.

    Unreadable recordings are listed in ``Report.refused`` (``skip_bad=False`` turns
    them into a DatasetError instead, for callers that want all or nothing).
    """
    settings = settings or RunSettings(
        advert_interval_s=advert_interval_s,
        summary_detection=summary_detection,
        thresholds=thresholds,
    )
    dataset = load_dataset(directory)
    if dataset.refused and not skip_bad:
        shown = "\n  ".join(str(r) for r in dataset.refused[:20])
        raise DatasetError(f"{len(dataset.refused)} recording(s) cannot be read:\n  {shown}")
    return evaluate_dataset(dataset, settings, progress=progress)


def subject_split(
    report: Report, dataset: Dataset, k: int
) -> tuple[list[FoldFigures], dict[str, Any]]:
    """Per-fold figures of an untuned run, and the JSON block that describes them."""
    folds = subject_folds(dataset.subjects_and_falls(), k)
    figures = [fold_figures(i, f, report.results) for i, f in enumerate(folds, start=1)]
    block: dict[str, Any] = {
        "kind": "subject",
        "folds": k,
        "tuned": None,
        "held_out": (
            "nothing is tuned: the thresholds are fixed by the fall sensitivity level, so "
            "the pooled figures are held-out figures for every fold"
        ),
        "sensitivity": report.as_dict()["sensitivity"],
        "specificity": report.as_dict()["specificity"],
        **spread(figures),
        "per_fold": [f.as_dict() for f in figures],
    }
    return figures, block
