"""The wristband firmware's motion step: raw accelerometer samples in, per-advert
motion summaries and an on-device fall flag out.

A real band runs this in C on its microcontroller; this is the reference model the
gateway's rules and the fall evaluation (``silverguard falls evaluate``) are built on.

1. **Resampling.** Sensors deliver samples at 20-200 Hz with jittery timestamps and in
   batches. Everything downstream runs on a fixed 50 Hz grid: samples are averaged per
   20 ms bin (an anti-aliasing box filter for fast sensors) and empty bins are
   interpolated (slow sensors). A gap longer than ``MAX_GAP_S`` restarts the grid.
2. **Fall detection** (:class:`FallDetector`) at full rate: an impact candidate is
   judged 2.5 s after it by physical evidence from before, during and after it (see
   :class:`FallThresholds` for each threshold's reason). The band raises its fall flag
   when the evidence score reaches the threshold.
3. **Summaries** (:class:`IntervalSummariser`): per advert interval, the peak
   acceleration, the mean orientation of the forearm (tilt and roll) and whether the
   wrist moved. The gateway's own fall rule works on these (edge/rules/fall.py).
"""

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from firmware_mocks.wristband import MotionSummary

GRID_HZ = 50.0
_DT = 1.0 / GRID_HZ
# A sensor that stops for longer than this lost samples; interpolating across the hole
# would invent motion, so the grid (and the detector's history) starts over.
MAX_GAP_S = 0.5

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


class Resampler:
    """Samples at any rate with jittery or batched timestamps -> a 50 Hz grid.

    Streaming: :meth:`push` returns the grid points completed so far (one bin late,
    because an empty bin is interpolated towards the next filled one).
    """

    def __init__(self, rate_hz: float = GRID_HZ, max_gap_s: float = MAX_GAP_S) -> None:
        self.rate_hz = rate_hz
        self._max_gap_bins = max(1, round(max_gap_s * rate_hz))
        self._origin: float | None = None
        self._bin = 0  # index of the bin being filled
        self._sum = [0.0, 0.0, 0.0]
        self._count = 0
        self._last: tuple[int, Vector] | None = None  # last emitted bin and its value
        self.dropped_out_of_order = 0
        self.gaps = 0

    def push(self, t_s: float, ax: float, ay: float, az: float) -> list[GridSample]:
        if self._origin is None:
            self._origin = t_s
        index = math.floor((t_s - self._origin) * self.rate_hz + 1e-9)
        if index < self._bin:
            # A sample older than the bin being filled: the sensor's clock stepped back.
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


def _ramp(value: float, zero_at: float, one_at: float) -> float:
    """0 at ``zero_at``, 1 at ``one_at``, linear between (either direction)."""
    t = (value - zero_at) / (one_at - zero_at)
    return min(1.0, max(0.0, t))


def _angle_deg(a: Vector, b: Vector) -> float:
    na = math.sqrt(sum(v * v for v in a))
    nb = math.sqrt(sum(v * v for v in b))
    if na < 1e-6 or nb < 1e-6:
        return 0.0
    cos = sum(p * q for p, q in zip(a, b, strict=True)) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


@dataclass(frozen=True, slots=True)
class FallThresholds:
    """The fall detector's physical thresholds. Each piece of evidence is graded from 0
    to 1 between two anchors; the flag goes up when the weighted sum reaches
    ``score_to_flag``. No single piece is required: people often move after landing,
    and arm movements reach impact-sized peaks, so only the combination is telling.
    """

    # Candidate impact: acceleration magnitude at the wrist. Walking and everyday arm
    # movements stay below ~2 g; the ground stopping a falling body (2-4 m/s within
    # 0.1-0.2 s) gives 2.5 g and more. Graded from 3 g (a brisk arm movement can reach
    # it) to 5 g (only hard impacts do).
    candidate_g: float = 2.5
    impact_g: tuple[float, float] = (3.0, 5.0)
    # Impact dose: integral of the magnitude above 1.5 g from 0.3 s before to 0.8 s
    # after the peak, in g*s (x 9.81 = m/s of velocity absorbed at high deceleration).
    # A hand strike, a clap or dropping onto a seat is over within a few hundredths of
    # a second (< 0.1 g*s); a body that lands from standing or sitting height absorbs
    # 2-4 m/s (0.2-0.4 g*s).
    dose_g_s: tuple[float, float] = (0.1, 0.4)
    # Posture change: angle between the gravity direction seen by the band 2.5-1 s
    # before the impact and 1-2.5 s after it. Arm swing moves it by less than ~20
    # degrees; going from upright to lying turns the body by ~90 degrees, which reaches
    # the wrist as 60 degrees or more in most falls.
    posture_deg: tuple[float, float] = (20.0, 60.0)
    # Calm afterwards: spread (std of the unit gravity vector, summed over axes) of the
    # wrist's orientation 1-2.5 s after the impact. Walking on, jogging or clapping keep
    # the forearm swinging (spread >= 0.4); a person on the ground moves far less
    # (< 0.1), even when trying to get up.
    calm_spread: tuple[float, float] = (0.4, 0.1)
    # Tumbling: mean |magnitude - 1 g| from 0.15 to 0.6 s after the peak. A falling body
    # lands in stages (hand, knee or hip, shoulder) and rolls, so the wrist keeps being
    # thrown about for a few tenths of a second; a hand strike or sitting down hard
    # stops at once (< 0.1 g).
    tumble_g: tuple[float, float] = (0.1, 0.4)
    # Weights: posture change counts double - it is what tells lying from a bump while
    # upright; the other four count once. Maximum score 6; the flag needs two thirds.
    weight_impact: float = 1.0
    weight_dose: float = 1.0
    weight_posture: float = 2.0
    weight_calm: float = 1.0
    weight_tumble: float = 1.0
    score_to_flag: float = 4.0
    # Rhythm veto: peaks above 2 g within 4 s before and 2.5 s after the impact. Jogging,
    # clapping and stair-walking repeat impacts every 0.3-0.7 s; a fall is one impact,
    # perhaps with a bounce or two and a hand put down. Five or more is an activity.
    rhythm_peak_g: float = 2.0
    rhythm_veto_peaks: int = 5
    # Sensor bandwidth. An accelerometer filters before it samples (bandwidth about half
    # its output rate); impact pulses at the wrist last 20-60 ms, so a sensor sampling
    # below ~40 Hz records them lower and broader - at 20 Hz about a fifth lower in peak
    # and area (measured by band-limiting 40 Hz recordings to 20 and 25 Hz). Below
    # ``reference_rate_hz`` the amplitude anchors (candidate, impact, dose, tumbling)
    # scale by (rate / reference) ** (1/3); the orientation evidence needs no scaling.
    reference_rate_hz: float = 40.0
    # The candidate is judged this long after its peak (the posture and calm windows
    # end there): the detection latency of the band.
    decide_after_s: float = 2.5
    # One fall gives one flag: bounces and getting up after a flag are not new falls.
    refractory_s: float = 10.0

    def for_sensor(self, rate_hz: float) -> "FallThresholds":
        """These thresholds as they apply to a sensor sampling at ``rate_hz``."""
        k = min(1.0, (rate_hz / self.reference_rate_hz) ** (1 / 3))
        if k >= 1.0:
            return self
        return replace(
            self,
            candidate_g=1.0 + (self.candidate_g - 1.0) * k,
            impact_g=(self.impact_g[0] * k, self.impact_g[1] * k),
            dose_g_s=(self.dose_g_s[0] * k, self.dose_g_s[1] * k),
            tumble_g=(self.tumble_g[0] * k, self.tumble_g[1] * k),
        )


@dataclass(frozen=True, slots=True)
class FallEvidence:
    """Why the detector did or did not flag one impact candidate."""

    peak_t: float
    decided_t: float
    peak_g: float
    dose_g_s: float
    posture_deg: float
    calm_spread: float
    rhythm_peaks: int
    tumble_g: float
    score: float
    flagged: bool


class FallDetector:
    """The band's full-rate fall detector over the 50 Hz grid."""

    _PRE_S = 4.0

    def __init__(self, thresholds: FallThresholds | None = None) -> None:
        self.th = thresholds or FallThresholds()
        self._keep = round((self._PRE_S + self.th.decide_after_s + 1.0) * GRID_HZ)
        self._t: deque[float] = deque(maxlen=self._keep)
        self._v: deque[Vector] = deque(maxlen=self._keep)
        self._m: deque[float] = deque(maxlen=self._keep)
        self._n = 0  # samples seen since the last reset (absolute index of the next one)
        self._pending: list[int] = []  # absolute indices of impact candidates
        self._quiet_until = -math.inf
        self.evidence: list[FallEvidence] = []

    def reset(self) -> None:
        """Forget the history (after a gap in the samples)."""
        self._t.clear()
        self._v.clear()
        self._m.clear()
        self._n = 0
        self._pending.clear()

    def push(self, s: GridSample) -> FallEvidence | None:
        """Add one grid sample; return the evidence when a candidate was judged now."""
        m = s.magnitude
        self._t.append(s.t)
        self._v.append((s.x, s.y, s.z))
        self._m.append(m)
        i = self._n
        self._n += 1
        if m >= self.th.candidate_g and s.t >= self._quiet_until:
            window = round(0.5 * GRID_HZ)
            if self._pending and i - self._pending[-1] < window:
                if m > self._m_at(self._pending[-1]):
                    self._pending[-1] = i
            else:
                self._pending.append(i)
        decide = round(self.th.decide_after_s * GRID_HZ)
        result = None
        while self._pending and i - self._pending[0] >= decide:
            evidence = self._judge(self._pending.pop(0), i)
            if evidence is None:
                continue
            self.evidence.append(evidence)
            if evidence.flagged:
                self._quiet_until = evidence.peak_t + self.th.refractory_s
                self._pending = [p for p in self._pending if self._t_at(p) >= self._quiet_until]
                return evidence
            result = evidence
        return result

    # -- history access by absolute index --------------------------------------------

    def _pos(self, index: int) -> int:
        return index - (self._n - len(self._m))

    def _m_at(self, index: int) -> float:
        return self._m[self._pos(index)]

    def _t_at(self, index: int) -> float:
        return self._t[self._pos(index)]

    def _range(self, peak: int, t0: float, t1: float) -> range:
        first = self._n - len(self._m)
        a = max(first, peak + round(t0 * GRID_HZ))
        b = min(self._n, peak + round(t1 * GRID_HZ))
        return range(self._pos(a), self._pos(max(a, b)))

    def _mean_vector(self, peak: int, t0: float, t1: float) -> Vector | None:
        r = self._range(peak, t0, t1)
        if len(r) < round(0.2 * GRID_HZ):
            return None
        sx = sy = sz = 0.0
        for k in r:
            x, y, z = self._v[k]
            sx += x
            sy += y
            sz += z
        n = len(r)
        return (sx / n, sy / n, sz / n)

    # -- the judgement ---------------------------------------------------------------

    def _judge(self, peak: int, now_index: int) -> FallEvidence | None:
        if self._pos(peak) < 0:
            return None  # fell out of the history (cannot happen with the sizes above)
        th = self.th
        m = self._m
        p = self._pos(peak)
        peak_g = m[p]

        dose = sum(max(0.0, m[k] - 1.5) for k in self._range(peak, -0.3, 0.8)) * _DT

        before = self._mean_vector(peak, -2.5, -1.0)
        after = self._mean_vector(peak, 1.0, 2.5)
        posture = _angle_deg(before, after) if before and after else 0.0

        calm = self._orientation_spread(self._range(peak, 1.0, 2.5))

        rhythm = 0
        for r in (self._range(peak, -4.0, -0.6), self._range(peak, 0.6, th.decide_after_s)):
            for k in range(r.start + 1, r.stop - 1):
                if m[k] > th.rhythm_peak_g and m[k] >= m[k - 1] and m[k] > m[k + 1]:
                    rhythm += 1

        r = self._range(peak, 0.15, 0.6)
        tumble = sum(abs(m[k] - 1.0) for k in r) / len(r) if len(r) else 0.0

        score = (
            th.weight_impact * _ramp(peak_g, *th.impact_g)
            + th.weight_dose * _ramp(dose, *th.dose_g_s)
            + th.weight_posture * _ramp(posture, *th.posture_deg)
            + th.weight_calm * _ramp(calm, *th.calm_spread)
            + th.weight_tumble * _ramp(tumble, *th.tumble_g)
        )
        return FallEvidence(
            peak_t=self._t[p],
            decided_t=self._t[self._pos(now_index)],
            peak_g=peak_g,
            dose_g_s=dose,
            posture_deg=posture,
            calm_spread=calm,
            rhythm_peaks=rhythm,
            tumble_g=tumble,
            score=score,
            flagged=score >= th.score_to_flag and rhythm < th.rhythm_veto_peaks,
        )

    def _orientation_spread(self, r: range) -> float:
        if len(r) < round(0.5 * GRID_HZ):
            return 1.0  # unknown: no credit for calm
        units = []
        for k in r:
            x, y, z = self._v[k]
            n = math.sqrt(x * x + y * y + z * z) or 1.0
            units.append((x / n, y / n, z / n))
        total = 0.0
        for axis in range(3):
            values = [u[axis] for u in units]
            mean = sum(values) / len(values)
            total += sum((v - mean) ** 2 for v in values) / len(values)
        return math.sqrt(total)


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
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=5))
    _moved: bool = False
    _first: Vector | None = None
    _last: Vector | None = None

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
            and _angle_deg(self._first, self._last) > self.moving_deg
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
        if advert_interval_s <= 0:
            raise ValueError("the advert interval must be positive")
        if sensor_rate_hz <= 0:
            raise ValueError("the sensor rate must be positive")
        self.interval_s = advert_interval_s
        self.resampler = Resampler()
        self.detector = FallDetector((thresholds or FallThresholds()).for_sensor(sensor_rate_hz))
        self.summariser = IntervalSummariser(mounting or Mounting())
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
            if self._last_t is not None and s.t - self._last_t > 1.5 * _DT:
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
