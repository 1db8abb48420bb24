"""Reading one recording as a device recorded it, and saying in words what was wrong.

A CSV with the header ``t_s,ax_g,ay_g,az_g``. Devices and the paths that record them
are untidy, and that is no reason to refuse a recording: the time comes from ``t_s``
(the index's rate is nominal), and

- rows that are not numbers (or NaN) are dropped like lost samples;
- timestamps out of order by a little (jitter) are put in order;
- samples delivered in a batch under one timestamp are spread evenly over the
  interval since the batch before, and jittered timestamps are put on the sensor's
  own steady clock (silverguard/falls/sensor_clock.py);
- a sample repeating the one before it exactly is a copy a phone or gateway filled in
  for a lost packet (a real sensor's noise never repeats all three axes) and is dropped;
- acceleration in m/s^2 (resting magnitude near 9.8) is converted to g, and time in
  milliseconds to seconds.

Each of those is reported as a warning. Refused (:class:`RecordingRefused`) is only
what cannot be read: no usable samples, a clock that runs backwards, a constant
signal, a scale that is neither g nor m/s^2, a rate no wrist sensor runs at.
"""

import csv
import itertools
import math
import statistics
from dataclasses import dataclass, field

from silverguard.falls.dataset import Recording, Sample
from silverguard.falls.sensor_clock import (
    MAX_DATA_RATE_HZ,
    MIN_DATA_RATE_HZ,
    RecordingRefused,
    in_time_order,
    on_sensor_clock,
    spread_batches,
    time_in_seconds,
)

SAMPLE_COLUMNS = ("t_s", "ax_g", "ay_g", "az_g")
_G = 9.80665
# More unusable rows than this and the recording says too little to judge.
_MAX_BAD_FRACTION = 0.2
# Resting magnitude of a worn sensor: about 1 in g, about 9.8 in m/s^2.
_G_RANGE = (0.5, 2.0)
_MPS2_RANGE = (5.0, 20.0)
# Beyond this the numbers are not acceleration of a wrist (sensors clip at 2-16 g).
_MAX_ABS_G = 50.0
# More steps than this shorter than half the usual one, and the timestamps are too
# ragged to put on a steady clock.
_RAGGED_FRACTION = 0.05
# Holes longer than this restart the band's history (firmware_mocks.resample.MAX_GAP_S).
_GAP_S = 1.0


@dataclass(slots=True)
class RecordingData:
    samples: list[Sample]
    rate_hz: float  # from the timestamps
    warnings: list[str] = field(default_factory=list)


def read_recording(recording: Recording) -> RecordingData:
    """The recording's samples, cleaned; raise RecordingRefused naming the problem."""
    where = recording.file
    try:
        with recording.path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            if tuple(header[:4]) != SAMPLE_COLUMNS:
                raise RecordingRefused(
                    f"{where}: header is {','.join(header) or '(empty)'}; "
                    f"expected {','.join(SAMPLE_COLUMNS)}"
                )
            rows = [(line, row) for line, row in enumerate(reader, start=2) if any(row)]
    except FileNotFoundError:
        raise RecordingRefused(f"{where}: file not found (listed in index.csv)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RecordingRefused(f"{where}: cannot read: {exc}") from None
    try:
        return clean(rows, recording.nominal_rate_hz)
    except RecordingRefused as exc:
        raise RecordingRefused(f"{where}: {exc}") from None


def clean(rows: list[tuple[int, list[str]]], nominal_rate_hz: float | None) -> RecordingData:
    """(line number, cells) rows -> samples in g on a rising clock, with warnings."""
    warnings: list[str] = []
    samples = _parse(rows, warnings)
    samples = in_time_order(samples, warnings)
    samples = time_in_seconds(samples, warnings)
    samples = spread_batches(samples, warnings)
    _refuse_constant(samples)
    # Copies count as delivered: each stands for a sample the sensor took.
    delivered = (len(samples) - 1) / (samples[-1][0] - samples[0][0])
    # The sensor's period is the usual step (a lost sample makes a step of two), unless
    # the clock is too ragged to tell: then the mean rate is all there is.
    steps = [b[0] - a[0] for a, b in itertools.pairwise(samples)]
    usual = statistics.median(steps)
    ragged = sum(step < usual / 2 for step in steps) > _RAGGED_FRACTION * len(steps)
    rate = delivered if ragged else 1.0 / usual
    if not MIN_DATA_RATE_HZ <= rate <= MAX_DATA_RATE_HZ:
        raise RecordingRefused(
            f"the timestamps give {rate:.1f} samples/s ({len(samples)} samples over "
            f"{samples[-1][0] - samples[0][0]:.3f} s); wrist sensors run at "
            f"{MIN_DATA_RATE_HZ:g}-{MAX_DATA_RATE_HZ:g} Hz (is t_s in seconds?)"
        )
    if ragged:
        warnings.append(
            "timestamps too ragged to find the sensor's steady clock (many steps shorter "
            "than half the usual one): used as they are"
        )
    else:
        samples, rate = on_sensor_clock(samples, rate, warnings)
    if delivered < 0.9 * rate:
        warnings.append(
            f"{100 * (1 - delivered / rate):.0f} % of the sensor's samples are missing (lost "
            f"on the way; it samples at {rate:.1f} Hz): holes up to {_GAP_S:g} s are "
            "interpolated"
        )
    samples = _drop_repeats(samples, warnings)
    samples = _in_g(samples, warnings)
    if nominal_rate_hz is not None and not nominal_rate_hz / 1.5 <= rate <= nominal_rate_hz * 1.5:
        warnings.append(
            f"timestamps give {rate:.1f} samples/s but index.csv says {nominal_rate_hz:g} Hz: "
            "going by the timestamps"
        )
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(samples) if b[0] - a[0] > _GAP_S]
    if gaps:
        warnings.append(
            f"{len(gaps)} holes in the samples longer than {_GAP_S:g} s (up to "
            f"{max(gaps):.2f} s): the band's history starts over after each"
        )
    return RecordingData(samples, rate, warnings)


def _parse(rows: list[tuple[int, list[str]]], warnings: list[str]) -> list[Sample]:
    samples: list[Sample] = []
    bad: list[int] = []
    for line, row in rows:
        try:
            t, x, y, z = (float(v) for v in row[:4])
        except ValueError:
            bad.append(line)
            continue
        if not all(math.isfinite(v) for v in (t, x, y, z)):
            bad.append(line)
            continue
        samples.append((t, x, y, z))
    if bad and (len(bad) > _MAX_BAD_FRACTION * len(rows) or len(samples) < 2):
        raise RecordingRefused(
            f"{len(bad)} of {len(rows)} rows are not four numbers (NaN, empty or text, "
            f"first at line {bad[0]}); too few usable samples are left"
        )
    if len(samples) < 2:
        raise RecordingRefused(f"{len(samples)} sample(s); a recording needs more")
    if bad:
        warnings.append(
            f"{len(bad)} rows not four numbers (NaN, empty or text, first at line "
            f"{bad[0]}) were dropped like lost samples"
        )
    return samples


def _refuse_constant(samples: list[Sample]) -> None:
    first = samples[0][1:]
    if all(s[1:] == first for s in samples):
        x, y, z = first
        raise RecordingRefused(
            f"the signal is constant ({x:g}, {y:g}, {z:g} in all {len(samples)} samples): a "
            "worn sensor always shows some noise, so the sensor was stuck or the values "
            "were filled in"
        )


def _drop_repeats(samples: list[Sample], warnings: list[str]) -> list[Sample]:
    out = [samples[0]]
    for s in samples[1:]:
        if s[1:] != out[-1][1:]:
            out.append(s)
    if len(out) < len(samples):
        warnings.append(
            f"{len(samples) - len(out)} samples repeated the one before exactly (copies "
            "filled in for lost packets) and were treated as lost"
        )
    if len(out) < 2:
        raise RecordingRefused("fewer than two distinct samples")
    return out


def _in_g(samples: list[Sample], warnings: list[str]) -> list[Sample]:
    resting = statistics.median(math.sqrt(x * x + y * y + z * z) for _, x, y, z in samples)
    if _MPS2_RANGE[0] <= resting <= _MPS2_RANGE[1]:
        warnings.append(
            f"acceleration looks like m/s^2 (median magnitude {resting:.2f}, about 9.81 at "
            "rest): converted to g"
        )
        samples = [(t, x / _G, y / _G, z / _G) for t, x, y, z in samples]
    elif not _G_RANGE[0] <= resting <= _G_RANGE[1]:
        raise RecordingRefused(
            f"median magnitude {resting:.3g} is neither about 1 (g) nor about 9.81 (m/s^2): "
            "a mis-scaled sensor or raw counts"
        )
    peak = max(max(abs(x), abs(y), abs(z)) for _, x, y, z in samples)
    if peak > _MAX_ABS_G:
        raise RecordingRefused(
            f"a value of {peak:.1f} g: beyond any wrist sensor's range (2-16 g); the columns "
            "must be acceleration in g or m/s^2"
        )
    return samples
