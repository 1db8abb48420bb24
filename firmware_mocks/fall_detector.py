"""The band's full-rate fall detector, at the band's own sample rate.

Every peak of the acceleration magnitude above the candidate threshold (the largest
within 0.5 s) is a candidate impact, judged ``decide_after_s`` later by evidence from
before, during and after it (:class:`FallThresholds` gives each threshold's reason).
Only magnitudes and angles between gravity directions are used, so neither the wrist
nor the way the sensor is mounted matters.
"""

import math
from collections import deque
from dataclasses import dataclass, replace

from firmware_mocks.fall_thresholds import FallThresholds
from firmware_mocks.resample import GridSample, Vector, check_rate

# History kept before a candidate: the rhythm window (4 s) and the posture before it.
_PRE_S = 4.0
# Two peaks closer than this are one impact (a landing and its first bounce).
_MERGE_S = 0.5


@dataclass(frozen=True, slots=True)
class FallEvidence:
    """Why the detector did or did not flag one impact candidate (the features are what
    a tuning run re-scores under other thresholds)."""

    peak_t: float
    decided_t: float
    peak_g: float
    dose_g_s: float
    posture_deg: float
    calm_spread: float
    tumble_g: float
    rhythm_peaks: int
    active_before_g: float
    active_after_g: float
    score: float
    flagged: bool

    def judged_by(self, th: FallThresholds) -> tuple[float, bool]:
        """(score, flagged) under other thresholds."""
        score = th.score(
            peak_g=self.peak_g,
            dose_g_s=self.dose_g_s,
            posture_deg=self.posture_deg,
            calm=self.calm_spread,
            tumble_g=self.tumble_g,
        )
        veto = th.vetoed(
            rhythm_peaks=self.rhythm_peaks,
            active_before_g=self.active_before_g,
            active_after_g=self.active_after_g,
        )
        impact = th.impact_evidence(peak_g=self.peak_g, dose_g_s=self.dose_g_s)
        flagged = (
            score >= th.score_to_flag
            and impact >= th.impact_evidence_min
            and th.posture_changed(self.posture_deg)
            and not veto
        )
        return score, flagged


def angle_deg(a: Vector, b: Vector) -> float:
    na = math.sqrt(sum(v * v for v in a))
    nb = math.sqrt(sum(v * v for v in b))
    if na < 1e-6 or nb < 1e-6:
        return 0.0
    cos = sum(p * q for p, q in zip(a, b, strict=True)) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


class FallDetector:
    """Grid samples at ``rate_hz`` in; :class:`FallEvidence` per judged candidate out.

    ``thresholds`` are used as given: scale them for the sensor first
    (:meth:`FallThresholds.for_sensor`), as :class:`~firmware_mocks.motion.MotionFirmware`
    does.
    """

    def __init__(self, thresholds: FallThresholds | None = None, rate_hz: float = 50.0) -> None:
        self.th = thresholds or FallThresholds()
        self.rate_hz = check_rate(rate_hz)
        self._dt = 1.0 / rate_hz
        keep = round((_PRE_S + self.th.decide_after_s + 1.0) * rate_hz)
        self._t: deque[float] = deque(maxlen=keep)
        self._v: deque[Vector] = deque(maxlen=keep)
        self._m: deque[float] = deque(maxlen=keep)
        self._n = 0  # samples since the last reset (absolute index of the next one)
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
        """Add one grid sample; return the evidence when a candidate was judged now
        (the flagged one if any)."""
        self._t.append(s.t)
        self._v.append(s.vector)
        self._m.append(s.magnitude)
        i = self._n
        self._n += 1
        # The sample before this one now has both neighbours: is it a candidate?
        if i >= 2:
            self._consider(i - 1)
        decide = round(self.th.decide_after_s * self.rate_hz)
        result = None
        while self._pending and i - self._pending[0] >= decide:
            evidence = self._judge(self._pending.pop(0), i)
            self.evidence.append(evidence)
            if evidence.flagged:
                self._quiet_until = evidence.peak_t + self.th.refractory_s
                self._pending = [p for p in self._pending if self._t_at(p) >= self._quiet_until]
                return evidence
            result = evidence
        return result

    def _consider(self, k: int) -> None:
        g = self._d(self._pos(k))
        if g < self.th.candidate_g or self._t_at(k) < self._quiet_until:
            return
        p = self._pos(k)
        if not (g >= self._d(p - 1) and g > self._d(p + 1)):
            return
        if self._pending and k - self._pending[-1] < _MERGE_S * self.rate_hz:
            if g > self._d(self._pos(self._pending[-1])):
                self._pending[-1] = k
        else:
            self._pending.append(k)

    # -- history access ----------------------------------------------------------------

    def _pos(self, index: int) -> int:
        return index - (self._n - len(self._m))

    def _t_at(self, index: int) -> float:
        return self._t[self._pos(index)]

    def _d(self, p: int) -> float:
        """The magnitude at history position ``p``, a lone spike limited (despiked)."""
        m = self._m
        if p <= 0 or p >= len(m) - 1:
            return m[p]
        return min(m[p], max(m[p - 1], m[p + 1]) + self.th.despike_g)

    def _range(self, peak: int, t0: float, t1: float) -> range:
        first = self._n - len(self._m)
        a = max(first, peak + round(t0 * self.rate_hz))
        b = min(self._n, peak + round(t1 * self.rate_hz))
        return range(self._pos(a), self._pos(max(a, b)))

    def _mean_vector(self, r: range) -> Vector | None:
        if len(r) < max(2, round(0.2 * self.rate_hz)):
            return None
        sx = sy = sz = 0.0
        for k in r:
            x, y, z = self._v[k]
            sx += x
            sy += y
            sz += z
        n = len(r)
        return (sx / n, sy / n, sz / n)

    def _mean_excess(self, r: range) -> float:
        """Mean |magnitude - 1 g| over a stretch of history."""
        return sum(abs(self._d(k) - 1.0) for k in r) / len(r) if len(r) else 0.0

    # -- the judgement -----------------------------------------------------------------

    def _judge(self, peak: int, now_index: int) -> FallEvidence:
        th = self.th
        p = self._pos(peak)
        peak_g = self._d(p)
        dose = sum(abs(self._d(k) - 1.0) for k in self._range(peak, -0.2, 0.4)) * self._dt
        before = self._mean_vector(self._range(peak, -2.5, -1.0))
        after = self._mean_vector(self._range(peak, 1.0, 2.5))
        posture = angle_deg(before, after) if before and after else 0.0
        calm = self._orientation_spread(self._range(peak, 1.0, 2.5))
        tumble = self._mean_excess(self._range(peak, 0.15, 0.6))
        active_before = self._mean_excess(self._range(peak, -_PRE_S, -1.0))
        active_after = self._mean_excess(self._range(peak, 1.0, 2.5))
        rhythm = 0
        r = self._range(peak, -_PRE_S, -0.6)
        for k in range(max(1, r.start), r.stop):
            d = self._d(k)
            if d > th.rhythm_peak_g and d >= self._d(k - 1) and d > self._d(k + 1):
                rhythm += 1
        evidence = FallEvidence(
            peak_t=self._t[p],
            decided_t=self._t[self._pos(now_index)],
            peak_g=peak_g,
            dose_g_s=dose,
            posture_deg=posture,
            calm_spread=calm,
            tumble_g=tumble,
            rhythm_peaks=rhythm,
            active_before_g=active_before,
            active_after_g=active_after,
            score=0.0,
            flagged=False,
        )
        score, flagged = evidence.judged_by(th)
        return replace(evidence, score=score, flagged=flagged)

    def _orientation_spread(self, r: range) -> float:
        if len(r) < max(3, round(0.5 * self.rate_hz)):
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
