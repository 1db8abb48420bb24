"""A recording's clock as a device wrote it down -> the sensor's own steady clock.

A sensor samples at a steady rate; what jitters, repeats, comes in batches or steps
back is the time a phone or gateway wrote down. These steps put the samples back in
order, in seconds and on the sensor's clock, and say in a warning what they did; a
clock that truly runs backwards is refused (:class:`RecordingRefused`).
"""

import itertools
import statistics

from silverguard.falls.dataset import DatasetError, Sample

# A backward step larger than this is a clock reset, not jitter; and a clock that
# goes down more often than up runs backwards (a file in reverse order).
_MAX_BACKSTEP_S = 1.0
_MAX_BACK_FRACTION = 0.5
# Sample rates a recording may have, by its own timestamps: the band's 12.5-100 Hz
# with room for packet loss (a 12.5 Hz band losing a fifth of its samples) and for
# fast lab sensors that the band's resampler averages down.
MIN_DATA_RATE_HZ = 10.0
MAX_DATA_RATE_HZ = 250.0


class RecordingRefused(DatasetError):
    """One recording cannot be evaluated; the message says why, in words."""


def in_time_order(samples: list[Sample], warnings: list[str]) -> list[Sample]:
    back = [(i, a[0] - b[0]) for i, (a, b) in enumerate(itertools.pairwise(samples)) if b[0] < a[0]]
    if not back:
        return samples
    i, worst = max(back, key=lambda item: item[1])
    if worst > _MAX_BACKSTEP_S:
        raise RecordingRefused(
            f"the clock runs backwards: t_s drops by {worst:.3f} s (from {samples[i][0]:g} to "
            f"{samples[i + 1][0]:g} s); a clock that was reset cannot be put right - split "
            "the recording there"
        )
    if len(back) > _MAX_BACK_FRACTION * (len(samples) - 1):
        raise RecordingRefused(
            f"the clock runs backwards: t_s goes down at {len(back)} of {len(samples) - 1} "
            "steps; is the file in reverse order?"
        )
    warnings.append(
        f"{len(back)} samples out of time order by up to {worst:.3f} s (jitter) were put in order"
    )
    return sorted(samples, key=lambda s: s[0])


def time_in_seconds(samples: list[Sample], warnings: list[str]) -> list[Sample]:
    duration = samples[-1][0] - samples[0][0]
    if duration <= 0:
        raise RecordingRefused("all samples have the same timestamp; t_s must be a time")
    rate = (len(samples) - 1) / duration
    if rate < MIN_DATA_RATE_HZ <= rate * 1000 <= MAX_DATA_RATE_HZ:
        warnings.append(
            f"t_s looks like milliseconds ({rate * 1000:.1f} samples per 1000 units): "
            "converted to seconds"
        )
        return [(t / 1000, x, y, z) for t, x, y, z in samples]
    return samples


def spread_batches(samples: list[Sample], warnings: list[str]) -> list[Sample]:
    """Samples sharing one timestamp were taken one after another before it."""
    out: list[Sample] = []
    groups = [list(g) for _, g in itertools.groupby(samples, key=lambda s: s[0])]
    if len(groups) == len(samples):
        return samples
    steps = [b[0][0] - a[0][0] for a, b in itertools.pairwise(groups)]
    period = statistics.median(steps) / statistics.median(len(g) for g in groups)
    previous = groups[0][0][0] - period * len(groups[0])
    for group in groups:
        t = group[0][0]
        span = (t - previous) / len(group)
        out += [(previous + (k + 1) * span, x, y, z) for k, (_, x, y, z) in enumerate(group)]
        previous = t
    warnings.append(
        f"{len(samples) - len(groups)} samples shared a timestamp with another (delivered "
        "in batches): spread evenly over the time since the batch before"
    )
    return out


def on_sensor_clock(
    samples: list[Sample], rate: float, warnings: list[str]
) -> tuple[list[Sample], float]:
    """Timestamps put back on the sensor's own steady clock.

    A sensor samples at a steady rate; what jitters is the time a phone or gateway
    wrote down. Each sample gets the tick of the sensor's clock nearest its timestamp
    (the clock's period fitted over the whole recording), so a late and an early
    sample never share one period of the band's grid and no peak is averaged away.
    Lost samples stay holes.
    """
    times = [s[0] for s in samples]
    period = 1.0 / rate
    ticks = [0]
    for a, b in itertools.pairwise(times):
        ticks.append(ticks[-1] + max(1, round((b - a) / period)))
    mean_k = sum(ticks) / len(ticks)
    mean_t = sum(times) / len(times)
    spread = sum((k - mean_k) ** 2 for k in ticks)
    fitted = sum((k - mean_k) * (t - mean_t) for k, t in zip(ticks, times, strict=True)) / spread
    if not 0.9 * period <= fitted <= 1.1 * period:
        return samples, rate  # no steady clock to be found: keep the timestamps
    start = mean_t - fitted * mean_k
    out: list[Sample] = []
    last = -1
    worst = 0.0
    for t, x, y, z in samples:
        k = max(last + 1, round((t - start) / fitted))
        last = k
        tick = start + k * fitted
        worst = max(worst, abs(t - tick) / fitted)
        out.append((tick, x, y, z))
    if worst > 0.1:
        warnings.append(
            f"timestamps jittered by up to {100 * worst:.0f} % of a sample period: put on the "
            f"sensor's steady {1 / fitted:.1f} Hz clock"
        )
    return out, 1.0 / fitted
