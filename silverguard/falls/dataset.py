"""Reading a fall dataset in the layout ``silverguard falls evaluate`` takes.

A directory with ``index.csv`` (one recording per row; required columns ``file``,
``subject``, ``activity``, ``is_fall``, ``sample_rate_hz``; others are ignored) and the
recordings it names (``file`` relative to the directory): CSVs with the header
``t_s,ax_g,ay_g,az_g`` (seconds, acceleration in g). Sample rates from 20 to 200 Hz;
timestamps may jitter (the band's firmware resamples on them), so the rate is checked
against the nominal one only roughly.
"""

import csv
import itertools
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

INDEX = "index.csv"
INDEX_COLUMNS = ("file", "subject", "activity", "is_fall", "sample_rate_hz")
SAMPLE_COLUMNS = ("t_s", "ax_g", "ay_g", "az_g")
MIN_RATE_HZ = 20.0
MAX_RATE_HZ = 200.0
# Accelerometers on wrists clip at 2-16 g; a value beyond this is not acceleration in g
# (a file in m/s^2 or raw counts).
_MAX_ABS_G = 50.0

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
    sample_rate_hz: float
    line: int  # in index.csv, for messages


def read_index(directory: Path) -> list[Recording]:
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
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in INDEX_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DatasetError(
            f"{index}: missing column(s) {', '.join(missing)} "
            f"(required: {', '.join(INDEX_COLUMNS)})"
        )
    recordings = []
    problems = []
    for line, row in enumerate(reader, start=2):
        try:
            recordings.append(_recording(directory, row, line))
        except DatasetError as exc:
            problems.append(f"{index}:{line}: {exc}")
    if problems:
        raise DatasetError("\n".join(problems[:20]) + _more(len(problems)))
    if not recordings:
        raise DatasetError(f"{index} lists no recordings")
    return recordings


def _more(n: int) -> str:
    return f"\n... and {n - 20} more" if n > 20 else ""


def _recording(directory: Path, row: dict[str, str], line: int) -> Recording:
    file = (row.get("file") or "").strip()
    if not file:
        raise DatasetError("empty 'file'")
    is_fall = (row.get("is_fall") or "").strip().lower()
    if is_fall not in ("0", "1", "true", "false"):
        raise DatasetError(f"is_fall is {row.get('is_fall')!r}; use 0 or 1")
    try:
        rate = float(row.get("sample_rate_hz") or "")
    except ValueError:
        raise DatasetError(
            f"sample_rate_hz {row.get('sample_rate_hz')!r} is not a number"
        ) from None
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise DatasetError(
            f"sample_rate_hz {rate:g} is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz "
            "(the band's firmware model takes wrist sensors at 20-200 Hz)"
        )
    path = (directory / file).resolve()
    if directory.resolve() not in path.parents:
        raise DatasetError(f"file {file!r} points outside the dataset directory")
    return Recording(
        file=file,
        path=path,
        subject=(row.get("subject") or "").strip(),
        activity=(row.get("activity") or "").strip() or "?",
        is_fall=is_fall in ("1", "true"),
        sample_rate_hz=rate,
        line=line,
    )


def read_samples(recording: Recording) -> list[Sample]:
    """The recording's samples, validated; raise DatasetError naming the problem."""
    where = recording.file
    try:
        with recording.path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            if tuple(header[:4]) != SAMPLE_COLUMNS:
                raise DatasetError(
                    f"{where}: header is {','.join(header) or '(empty)'}; "
                    f"expected {','.join(SAMPLE_COLUMNS)}"
                )
            samples: list[Sample] = []
            for line, row in enumerate(reader, start=2):
                if not row or not "".join(row).strip():
                    continue
                samples.append(_sample(row, f"{where}:{line}"))
    except FileNotFoundError:
        raise DatasetError(f"{where}: file not found (listed in index.csv)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{where}: cannot read: {exc}") from None
    _check_rate(recording, samples)
    return samples


def _sample(row: list[str], where: str) -> Sample:
    if len(row) < 4:
        raise DatasetError(f"{where}: {len(row)} values; expected t_s,ax_g,ay_g,az_g")
    try:
        t, x, y, z = (float(v) for v in row[:4])
    except ValueError:
        raise DatasetError(f"{where}: not a number in {','.join(row[:4])!r}") from None
    if not all(math.isfinite(v) for v in (t, x, y, z)):
        raise DatasetError(f"{where}: not a finite number in {','.join(row[:4])!r}")
    if max(abs(x), abs(y), abs(z)) > _MAX_ABS_G:
        raise DatasetError(
            f"{where}: acceleration beyond {_MAX_ABS_G:g} g; the columns must be in g, "
            "not m/s^2 or raw counts"
        )
    return (t, x, y, z)


def _check_rate(recording: Recording, samples: list[Sample]) -> None:
    where = recording.file
    if len(samples) < 2:
        raise DatasetError(f"{where}: {len(samples)} sample(s); a recording needs more")
    steps = [b[0] - a[0] for a, b in itertools.pairwise(samples)]
    if sum(1 for s in steps if s < 0) > len(steps) // 10:
        raise DatasetError(f"{where}: timestamps go backwards too often; is t_s in seconds?")
    duration = samples[-1][0] - samples[0][0]
    if duration <= 0:
        raise DatasetError(f"{where}: all samples have the same timestamp")
    rate = (len(samples) - 1) / duration
    # Batched delivery makes single steps meaningless; the mean rate over the whole
    # recording must agree with the nominal one within a factor of 1.5.
    nominal = recording.sample_rate_hz
    if not nominal / 1.5 <= rate <= nominal * 1.5:
        typical = statistics.median(s for s in steps if s > 0) if any(s > 0 for s in steps) else 0
        raise DatasetError(
            f"{where}: timestamps give {rate:.1f} samples/s (median step {typical:.4f} s) "
            f"but index.csv says {nominal:g} Hz; is t_s in seconds?"
        )
    if not MIN_RATE_HZ / 1.5 <= rate <= MAX_RATE_HZ * 1.5:
        raise DatasetError(f"{where}: {rate:.1f} samples/s is outside 20-200 Hz")
