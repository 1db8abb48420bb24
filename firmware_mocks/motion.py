"""The wristband firmware's motion step: raw accelerometer samples in, per-advert
motion summaries and an on-device fall flag out.

A real band runs this in C on its microcontroller; this is the reference model the
gateway's rules and the fall evaluation (``silverguard falls evaluate``) are built on.
Everything runs at the rate the band's profile declares (12.5-100 Hz):

1. **Resampling** (:mod:`firmware_mocks.resample`): jittery, batched or lossy samples
   become an evenly spaced grid at the band's rate.
2. **Fall detection** (:mod:`firmware_mocks.fall_detector`, thresholds and their
   reasons in :mod:`firmware_mocks.fall_thresholds`): an impact candidate is judged
   2.5 s after it; the band raises its fall flag when the evidence is strong enough.
3. **Summaries** (:class:`IntervalSummariser`): per advert interval, the peak
   acceleration, the mean orientation of the forearm (tilt and roll) and whether the
   wrist moved. The gateway's own fall rule works on these (edge/rules/fall.py).
"""

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from firmware_mocks.fall_detector import FallDetector, FallEvidence, angle_deg
from firmware_mocks.fall_thresholds import FallThresholds
from firmware_mocks.resample import (
    DEFAULT_RATE_HZ,
    MAX_RATE_HZ,
    MIN_RATE_HZ,
    GridSample,
    Resampler,
    Vector,
    check_rate,
)
from firmware_mocks.wristband import MotionSummary

# The grid rate when a caller names none (kept for callers of the 50 Hz model).
GRID_HZ = DEFAULT_RATE_HZ

__all__ = [
    "GRID_HZ",
    "MAX_RATE_HZ",
    "MIN_RATE_HZ",
    "FallDetector",
    "FallEvidence",
    "FallThresholds",
    "GridSample",
    "IntervalSummariser",
    "MotionFirmware",
    "MotionOutput",
    "Mounting",
    "Resampler",
    "gravity_from",
    "orientation",
    "run_firmware",
]


Axis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]


@dataclass(frozen=True, slots=True)
class Mounting:
    """How the band's accelerometer sits on the forearm.

    ``elbow`` is the sensor axis that points from the hand towards the elbow (it reads
    +1 g when the arm hangs); ``face`` the one out of the band's face. The Silverguard
    band mounts its sensor with +z towards the elbow and +y out of the face.
    """

    elbow: Axis = "+z"
    face: Axis = "+y"

    def components(self, v: Vector) -> tuple[float, float, float]:
        """(along the forearm towards the elbow, across it, out of the face)."""
        along = _pick(v, self.elbow)
        face = _pick(v, self.face)
        e = _unit_axis(self.elbow)
        f = _unit_axis(self.face)
        side = (e[1] * f[2] - e[2] * f[1], e[2] * f[0] - e[0] * f[2], e[0] * f[1] - e[1] * f[0])
        across = v[0] * side[0] + v[1] * side[1] + v[2] * side[2]
        return along, across, face


def _unit_axis(axis: Axis) -> Vector:
    sign = -1.0 if axis[0] == "-" else 1.0
    k = "xyz".index(axis[1])
    return tuple(sign if i == k else 0.0 for i in range(3))  # type: ignore[return-value]


def _pick(v: Vector, axis: Axis) -> float:
    return (-1.0 if axis[0] == "-" else 1.0) * v["xyz".index(axis[1])]


def orientation(v: Vector, mounting: Mounting) -> tuple[float, float]:
    """(tilt, roll) in degrees of a gravity reading.

    Tilt: the forearm's angle to the horizontal, -90 hanging .. 90 raised. Roll: the
    wrist's turn about the forearm, 0 with the face up, +-180 face down.
    """
    along, across, face = mounting.components(v)
    n = math.sqrt(along * along + across * across + face * face)
    if n < 1e-6:
        return 0.0, 0.0
    tilt = -math.degrees(math.asin(max(-1.0, min(1.0, along / n))))
    roll = math.degrees(math.atan2(across, face))
    return tilt, roll


def gravity_from(tilt_deg: float, roll_deg: float) -> Vector:
    """The unit gravity reading (along, across, face) for a tilt and roll: the gateway
    compares postures with it. Angles between two such vectors equal the angles
    between the band's own readings, whatever the mounting."""
    t = math.radians(tilt_deg)
    r = math.radians(roll_deg)
    return (-math.sin(t), math.cos(t) * math.sin(r), math.cos(t) * math.cos(r))


@dataclass(slots=True)
class IntervalSummariser:
    """Condenses the grid samples of one advert interval into a MotionSummary."""

    mounting: Mounting = field(default_factory=Mounting)
    rate_hz: float = GRID_HZ
    # The wrist "moved" when the magnitude (averaged over 0.1 s, to stay above sensor
    # noise of ~0.02 g) left 1 g by more than 0.1 g, or any single sample by more than
    # 0.3 g (a jolt the average smooths away), or the forearm turned by more than 10
    # degrees within the interval.
    moving_g: float = 0.1
    jolt_g: float = 0.3
    moving_deg: float = 10.0
    _peak: float = 0.0
    _sum: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    _count: int = 0
    _recent: deque[float] = field(default_factory=deque)
    _moved: bool = False
    _first: Vector | None = None
    _last: Vector | None = None

    def __post_init__(self) -> None:
        self._recent = deque(maxlen=max(1, round(0.1 * self.rate_hz)))

    def add(self, s: GridSample) -> None:
        m = s.magnitude
        self._peak = max(self._peak, m)
        self._sum[0] += s.x
        self._sum[1] += s.y
        self._sum[2] += s.z
        self._count += 1
        self._recent.append(m)
        if abs(m - 1.0) > self.jolt_g:
            self._moved = True
        if len(self._recent) == self._recent.maxlen:
            smooth = sum(self._recent) / len(self._recent)
            if abs(smooth - 1.0) > self.moving_g:
                self._moved = True
        v = (s.x, s.y, s.z)
        if self._first is None:
            self._first = v
        self._last = v

    def take(self) -> MotionSummary | None:
        """The summary of the samples since the last call, or None if there were none."""
        if self._count == 0:
            return None
        n = self._count
        mean = (self._sum[0] / n, self._sum[1] / n, self._sum[2] / n)
        tilt, roll = orientation(mean, self.mounting)
        turned = (
            self._first is not None
            and self._last is not None
            and angle_deg(self._first, self._last) > self.moving_deg
        )
        summary = MotionSummary(
            peak_g=self._peak, tilt_deg=tilt, roll_deg=roll, moving=self._moved or turned
        )
        self._peak = 0.0
        self._sum = [0.0, 0.0, 0.0]
        self._count = 0
        self._moved = False
        self._first = None
        return summary


@dataclass(frozen=True, slots=True)
class MotionOutput:
    """What the band hands its radio at ``t``: the motion summary of the interval that
    ends then, and whether its fall detector fired (the flag goes out at once, in an
    extra advert, rather than waiting for the next interval)."""

    t: float
    summary: MotionSummary
    fall_flag: bool = False
    evidence: FallEvidence | None = None


class MotionFirmware:
    """Samples in, :class:`MotionOutput` per advert interval (and per fall flag) out."""

    def __init__(
        self,
        advert_interval_s: float = 1.0,
        *,
        thresholds: FallThresholds | None = None,
        mounting: Mounting | None = None,
        sensor_rate_hz: float = GRID_HZ,
    ) -> None:
        """``sensor_rate_hz`` is the band's own rate (12.5-100 Hz, as its profile
        declares): the grid, the detector and the summaries all run at it."""
        if advert_interval_s <= 0:
            raise ValueError("the advert interval must be positive")
        rate = check_rate(sensor_rate_hz)
        self.interval_s = advert_interval_s
        self.rate_hz = rate
        self.resampler = Resampler(rate)
        self.detector = FallDetector((thresholds or FallThresholds()).for_sensor(rate), rate)
        self.summariser = IntervalSummariser(mounting or Mounting(), rate)
        self._next_advert: float | None = None
        self._last_t: float | None = None

    def push(self, t_s: float, ax: float, ay: float, az: float) -> list[MotionOutput]:
        return self._grid(self.resampler.push(t_s, ax, ay, az))

    def finish(self) -> list[MotionOutput]:
        out = self._grid(self.resampler.flush())
        summary = self.summariser.take()
        if summary is not None and self._last_t is not None:
            out.append(MotionOutput(self._last_t, summary))
        return out

    def _grid(self, samples: Iterable[GridSample]) -> list[MotionOutput]:
        out: list[MotionOutput] = []
        for s in samples:
            if self._last_t is not None and s.t - self._last_t > 1.5 / self.rate_hz:
                self.detector.reset()  # the resampler restarted after a gap
            self._last_t = s.t
            if self._next_advert is None:
                self._next_advert = s.t + self.interval_s
            self.summariser.add(s)
            evidence = self.detector.push(s)
            if evidence is not None and evidence.flagged:
                summary = self.summariser.take()
                assert summary is not None
                out.append(MotionOutput(s.t, summary, fall_flag=True, evidence=evidence))
            if s.t >= self._next_advert:
                summary = self.summariser.take()
                if summary is not None:
                    out.append(MotionOutput(s.t, summary))
                self._next_advert += self.interval_s
        return out


def run_firmware(
    samples: Iterable[tuple[float, float, float, float]],
    advert_interval_s: float = 1.0,
    *,
    thresholds: FallThresholds | None = None,
    mounting: Mounting | None = None,
    sensor_rate_hz: float = GRID_HZ,
) -> Iterator[MotionOutput]:
    """Run a whole recording through the band's motion step."""
    firmware = MotionFirmware(
        advert_interval_s, thresholds=thresholds, mounting=mounting, sensor_rate_hz=sensor_rate_hz
    )
    for t, ax, ay, az in samples:
        yield from firmware.push(t, ax, ay, az)
    yield from firmware.finish()
