"""Held-out splits: folds of subjects, never of recordings.

A person's recordings look alike (their gait, their way of falling, their band's fit),
so figures on recordings of people whose other recordings chose the thresholds are
fitted figures. Folds here group whole subjects; anything a run tunes is chosen on the
other folds only.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from silverguard.falls.replay import RecordingResult

DEFAULT_FOLDS = 5


class SplitError(ValueError):
    """A split that cannot be made (too few subjects for the folds asked)."""


def subject_folds(
    subjects_and_falls: Iterable[tuple[str, bool]], k: int = DEFAULT_FOLDS
) -> list[frozenset[str]]:
    """Subjects in ``k`` folds, balanced by fall recordings and then by recordings.

    Deterministic: the subjects with most falls are placed first, each into the fold
    with the fewest falls so far (then the fewest recordings, then the lowest number).
    """
    falls: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for subject, is_fall in subjects_and_falls:
        total[subject] += 1
        falls[subject] += int(is_fall)
    if k < 2:
        raise SplitError(f"a split needs at least 2 folds, not {k}")
    if len(total) < k:
        raise SplitError(f"{len(total)} subject(s) cannot fill {k} folds; use --folds {len(total)}")
    order = sorted(total, key=lambda s: (-falls[s], -total[s], s))
    members: list[set[str]] = [set() for _ in range(k)]
    fold_falls = [0] * k
    fold_total = [0] * k
    for subject in order:
        i = min(range(k), key=lambda j: (fold_falls[j], fold_total[j], j))
        members[i].add(subject)
        fold_falls[i] += falls[subject]
        fold_total[i] += total[subject]
    return [frozenset(m) for m in members]


@dataclass(frozen=True, slots=True)
class FoldFigures:
    fold: int
    subjects: tuple[str, ...]
    falls: int
    adls: int
    sensitivity: float | None
    specificity: float | None
    chosen: str | None = None  # what the other folds chose, for a tuning run

    def as_dict(self) -> dict[str, object]:
        return {
            "fold": self.fold,
            "subjects": list(self.subjects),
            "falls": self.falls,
            "daily_activities": self.adls,
            "sensitivity": None if self.sensitivity is None else round(self.sensitivity, 4),
            "specificity": None if self.specificity is None else round(self.specificity, 4),
            "chosen": self.chosen,
        }


def fold_figures(
    fold: int,
    subjects: frozenset[str],
    results: Sequence[RecordingResult],
    chosen: str | None = None,
) -> FoldFigures:
    mine = [r for r in results if r.subject in subjects]
    falls = [r for r in mine if r.is_fall]
    adls = [r for r in mine if not r.is_fall]
    return FoldFigures(
        fold,
        tuple(sorted(subjects)),
        len(falls),
        len(adls),
        sum(r.flagged for r in falls) / len(falls) if falls else None,
        sum(not r.flagged for r in adls) / len(adls) if adls else None,
        chosen,
    )


def spread(folds: Sequence[FoldFigures]) -> dict[str, float | None]:
    """The worst and best fold, for each figure."""
    out: dict[str, float | None] = {}
    for name in ("sensitivity", "specificity"):
        values = [v for f in folds if (v := getattr(f, name)) is not None]
        out[f"{name}_min"] = round(min(values), 4) if values else None
        out[f"{name}_max"] = round(max(values), 4) if values else None
    return out
