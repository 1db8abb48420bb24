"""Reading a fall dataset's index in the layout ``silverguard falls evaluate`` takes.

A directory with ``index.csv`` (one recording per row; required columns ``file``,
``subject``, ``activity``, ``is_fall``, ``sample_rate_hz``; others are ignored) and the
recordings it names (``file`` relative to the directory). ``sample_rate_hz`` is the
nominal rate: the recording's own timestamps decide (silverguard/falls/recording.py).

An index that cannot be read at all is a :class:`DatasetError`; a row that cannot be
used refuses only its recording (:class:`Refusal`), and the others are evaluated.
"""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

INDEX = "index.csv"
INDEX_COLUMNS = ("file", "subject", "activity", "is_fall", "sample_rate_hz")

Sample = tuple[float, float, float, float]


class DatasetError(ValueError):
    """The dataset cannot be read as it is; the message says where and what to fix."""


@dataclass(frozen=True, slots=True)
class Recording:
    file: str
    path: Path
    subject: str
    activity: str
    is_fall: bool
    nominal_rate_hz: float | None  # what index.csv says, if it says a usable number
    line: int  # in index.csv, for messages


@dataclass(frozen=True, slots=True)
class Refusal:
    """A recording that cannot be evaluated, and why, in words."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Index:
    directory: Path
    recordings: list[Recording]
    refused: list[Refusal]


def read_index(directory: Path) -> Index:
    directory = Path(directory)
    index = directory / INDEX
    if not directory.is_dir():
        raise DatasetError(f"{directory} is not a directory")
    try:
        text = index.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{index} not found: a dataset directory needs an index.csv") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {index}: {exc}") from None
    try:
        reader = csv.DictReader(text.splitlines())
        fields = reader.fieldnames or []
        rows = list(enumerate(reader, start=2))
    except csv.Error as exc:
        raise DatasetError(f"cannot read {index}: {exc}") from None
    missing = [c for c in INDEX_COLUMNS if c not in fields]
    if missing:
        raise DatasetError(
            f"{index}: missing column(s) {', '.join(missing)} "
            f"(required: {', '.join(INDEX_COLUMNS)})"
        )
    if not rows:
        raise DatasetError(f"{index} lists no recordings")
    recordings: list[Recording] = []
    refused: list[Refusal] = []
    for line, row in rows:
        file = (row.get("file") or "").strip()
        try:
            recordings.append(_recording(directory, file, row, line))
        except DatasetError as exc:
            refused.append(Refusal(file or f"{INDEX} line {line}", f"{INDEX} line {line}: {exc}"))
    return Index(directory, recordings, refused)


def _recording(directory: Path, file: str, row: dict[str, str], line: int) -> Recording:
    if not file:
        raise DatasetError("empty 'file'")
    is_fall = (row.get("is_fall") or "").strip().lower()
    if is_fall not in ("0", "1", "true", "false"):
        raise DatasetError(f"is_fall is {row.get('is_fall')!r}; use 0 or 1")
    path = (directory / file).resolve()
    if directory.resolve() not in path.parents:
        raise DatasetError(f"file {file!r} points outside the dataset directory")
    return Recording(
        file=file,
        path=path,
        subject=(row.get("subject") or "").strip() or "?",
        activity=(row.get("activity") or "").strip() or "?",
        is_fall=is_fall in ("1", "true"),
        nominal_rate_hz=_nominal_rate(row.get("sample_rate_hz")),
        line=line,
    )


def _nominal_rate(value: str | None) -> float | None:
    # Nominal only: a missing or odd value is no reason to refuse a recording whose
    # timestamps say how fast it was sampled.
    try:
        rate = float(value or "")
    except ValueError:
        return None
    return rate if math.isfinite(rate) and rate > 0 else None
