"""Accelerometer samples at any rate, with jittery or batched timestamps -> a fixed grid
at the band's own rate.

A band's firmware works on evenly spaced samples at the rate its profile declares
(12.5-100 Hz: cheap bands sample at 12.5-25 Hz to save battery). Sensors and the
paths that record them are less tidy: timestamps jitter, arrive in batches, repeat or
step back, and packets get lost. :class:`Resampler` averages the samples that fall
into each grid period (a box filter: the anti-aliasing a faster sensor needs) and
interpolates empty periods between filled ones (a slower sensor, or lost samples).
"""

import math
from dataclasses import dataclass

# The band's rates: the slowest output data rate of common wrist accelerometers
# (BMA400, LIS2DW12: 12.5 Hz) up to the fastest a band's battery affords.
MIN_RATE_HZ = 12.5
MAX_RATE_HZ = 100.0
DEFAULT_RATE_HZ = 50.0
# A hole in the samples up to this long is interpolated: BLE packet loss on a wrist
# loses up to a few hundred milliseconds, and the orientation of a forearm changes
# smoothly over that. Longer holes would invent a second of motion, so the grid (and
# the fall detector's history) starts over.
MAX_GAP_S = 1.0

Vector = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class GridSample:
    t: float
    x: float
    y: float
    z: float

    @property
    def magnitude(self) -> float:
        return math.sqrt(self.x * self.x + self.y * self.y + self.z * self.z)

    @property
    def vector(self) -> Vector:
        return (self.x, self.y, self.z)


def check_rate(rate_hz: float) -> float:
    """The band's rate, refused with a message if outside what a band can run at."""
    if not math.isfinite(rate_hz) or not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise ValueError(
            f"the band's sample rate must be {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz, not {rate_hz:g}"
        )
    return rate_hz


class Resampler:
    """Samples in, grid samples at ``rate_hz`` out.

    Streaming: :meth:`push` returns the grid points completed so far (one period late,
    because an empty period is interpolated towards the next filled one). A sample
    older than the period being filled (the clock stepped back) is dropped and counted.
    """

    def __init__(self, rate_hz: float = DEFAULT_RATE_HZ, max_gap_s: float = MAX_GAP_S) -> None:
        self.rate_hz = check_rate(rate_hz)
        self._max_gap_bins = max(1, round(max_gap_s * rate_hz))
        self._origin: float | None = None
        self._bin = 0  # index of the period being filled
        self._sum = [0.0, 0.0, 0.0]
        self._count = 0
        self._last: tuple[int, Vector] | None = None  # last emitted period and its value
        self.dropped_out_of_order = 0
        self.gaps = 0

    def push(self, t_s: float, ax: float, ay: float, az: float) -> list[GridSample]:
        if self._origin is None:
            self._origin = t_s
        index = math.floor((t_s - self._origin) * self.rate_hz + 1e-9)
        if index < self._bin:
            self.dropped_out_of_order += 1
            return []
        out: list[GridSample] = []
        if index > self._bin:
            out = self._close_bin()
            if index - self._bin > self._max_gap_bins and self._last is not None:
                self.gaps += 1
                self._origin = t_s
                self._last = None
                index = 0
            self._bin = index
        self._sum[0] += ax
        self._sum[1] += ay
        self._sum[2] += az
        self._count += 1
        return out

    def flush(self) -> list[GridSample]:
        return self._close_bin()

    def _time(self, index: int) -> float:
        assert self._origin is not None
        return self._origin + index / self.rate_hz

    def _close_bin(self) -> list[GridSample]:
        if self._count == 0:
            return []
        n = self._count
        value = (self._sum[0] / n, self._sum[1] / n, self._sum[2] / n)
        self._sum = [0.0, 0.0, 0.0]
        self._count = 0
        out: list[GridSample] = []
        if self._last is not None:
            last_index, last_value = self._last
            span = self._bin - last_index
            for k in range(1, span):
                f = k / span
                out.append(
                    GridSample(
                        self._time(last_index + k),
                        *(a + (b - a) * f for a, b in zip(last_value, value, strict=True)),
                    )
                )
        out.append(GridSample(self._time(self._bin), *value))
        self._last = (self._bin, value)
        return out
