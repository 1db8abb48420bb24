"""Scripted wrist motion: phases of gravity direction and dynamic acceleration.

A :class:`Recorder` strings phases together (standing, walking, turning the forearm,
an impact and its bounces, lying, trying to get up, clapping, hopping); its
:meth:`Recorder.motion` is what a sensor in the band feels at any instant, and a
:class:`~firmware_mocks.sensor_model.SensorModel` turns that into samples. Shapes are
physical sketches (amplitudes and durations from the mechanics of a wrist), not
learned from any recording.
"""

import bisect
import math
import random
from collections.abc import Callable

from firmware_mocks.motion import gravity_from
from firmware_mocks.sensor_model import Sample, SensorModel

Vector = tuple[float, float, float]
# (t since the phase began, phase length) -> (gravity direction, dynamic acceleration)
Shape = Callable[[float, float], tuple[Vector, Vector]]


def posture(tilt_deg: float, roll_deg: float) -> Vector:
    """Sensor-frame unit gravity reading for a forearm tilt and wrist roll."""
    along, across, face = gravity_from(tilt_deg, roll_deg)
    # The band's mounting: +z towards the elbow, +y out of the face, so across = -x.
    return (-across, face, along)


def slerp(a: Vector, b: Vector, f: float) -> Vector:
    v = tuple(p + (q - p) * f for p, q in zip(a, b, strict=True))
    n = math.sqrt(sum(c * c for c in v)) or 1.0
    return (v[0] / n, v[1] / n, v[2] / n)


def _scale(v: Vector, k: float) -> Vector:
    return (v[0] * k, v[1] * k, v[2] * k)


def _half_sine(t: float, start: float, length: float) -> float:
    if start <= t < start + length:
        return math.sin(math.pi * (t - start) / length)
    return 0.0


class Recorder:
    """Builds one recording from phases; random but reproducible from ``rng``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._starts: list[float] = []
        self._phases: list[tuple[float, Shape]] = []
        self.duration_s = 0.0
        self.last = posture(-80, 0)  # arm hanging

    def add(self, length_s: float, shape: Shape, end_posture: Vector) -> None:
        self._starts.append(self.duration_s)
        self._phases.append((length_s, shape))
        self.duration_s += length_s
        self.last = end_posture

    def motion(self, t: float) -> Vector:
        """What the sensor feels at ``t``: gravity reading plus dynamic acceleration."""
        i = max(0, min(len(self._phases) - 1, bisect.bisect_right(self._starts, t) - 1))
        length, shape = self._phases[i]
        g, a = shape(max(0.0, t - self._starts[i]), length)
        return (g[0] + a[0], g[1] + a[1], g[2] + a[2])

    def samples(
        self, rate_hz: float, *, jitter: float = 0.2, clip_g: float = 8.0, noise_g: float = 0.01
    ) -> list[Sample]:
        return self.record(SensorModel(rate_hz, jitter=jitter, clip_g=clip_g, noise_g=noise_g))

    def record(self, sensor: SensorModel) -> list[Sample]:
        return sensor.sample(self.motion, self.duration_s, self.rng)

    # -- building blocks -------------------------------------------------------------

    def still(self, length_s: float, posture: Vector, tremor_g: float = 0.01) -> None:
        rng = random.Random(self.rng.random())

        def shape(t: float, _: float) -> tuple[Vector, Vector]:
            return posture, (rng.gauss(0, tremor_g), rng.gauss(0, tremor_g), 0.0)

        self.add(length_s, shape, posture)

    def walk(self, length_s: float, step_hz: float | None = None, bounce_g: float = 0.3) -> None:
        step_hz = step_hz or self.rng.uniform(1.6, 2.0)
        phase = self.rng.uniform(0, 2 * math.pi)
        roll = self.rng.uniform(-30, 30)
        hanging = self.rng.uniform(-85, -65)

        def shape(t: float, _: float) -> tuple[Vector, Vector]:
            # The arm swings at half the step rate; the body bounces once per step.
            swing = 18 * math.sin(math.pi * step_hz * t + phase)
            g = posture(hanging + swing, roll)
            bounce = bounce_g * math.sin(2 * math.pi * step_hz * t + phase)
            return g, _scale(g, bounce)

        self.add(length_s, shape, posture(hanging, roll))

    def rotate(self, length_s: float, to: Vector, magnitude_g: float = 1.0) -> None:
        start = self.last

        def shape(t: float, n: float) -> tuple[Vector, Vector]:
            g = slerp(start, to, min(1.0, t / n))
            return g, _scale(g, magnitude_g - 1.0)

        self.add(length_s, shape, to)

    def impact(
        self, peak_g: float, length_s: float, after: Vector, bounces: list[tuple[float, float]]
    ) -> None:
        """An impact pulse along 'up' in the landed posture, then smaller bounces
        (delay after the impact, peak) as the body settles."""
        before = self.last
        total = length_s + (max(d for d, _ in bounces) + 0.12 if bounces else 0.0) + 0.1

        def shape(t: float, _: float) -> tuple[Vector, Vector]:
            g = slerp(before, after, min(1.0, t / (length_s + 0.05)))
            a = (peak_g - 1.0) * _half_sine(t, 0.0, length_s)
            for delay, bump in bounces:
                a += (bump - 1.0) * _half_sine(t, length_s + delay, 0.08)
            # A settling body also dips below 1 g between the bumps.
            if t > length_s and bounces:
                a -= 0.4 * math.sin(math.pi * min(1.0, (t - length_s) / (total - length_s)))
            return g, _scale(g, a)

        self.add(total, shape, after)

    def struggle(self, length_s: float, around: Vector) -> None:
        """Trying to get up from the floor: the forearm turns back and forth by up to
        30 degrees and pushes, at up to 0.25 g - about as lively as walking."""
        other = slerp(around, (around[1], around[2], around[0]), 0.35)
        rate = self.rng.uniform(0.4, 0.7)
        push = self.rng.uniform(0.15, 0.25)

        def shape(t: float, _: float) -> tuple[Vector, Vector]:
            g = slerp(around, other, 0.5 - 0.5 * math.cos(2 * math.pi * rate * t))
            return g, _scale(g, push * math.sin(2 * math.pi * 2 * rate * t))

        self.add(length_s, shape, around)

    def clap(self, length_s: float, at: Vector) -> None:
        """Clapping with the hands in front: the hand swings about 10 cm at 2.5-3.5 Hz
        (about 1.5 g peak, across the forearm) and stops on the other hand each time."""
        hz = self.rng.uniform(2.5, 3.5)
        swing_g = self.rng.uniform(1.2, 1.8)
        across = slerp((at[1], at[2], at[0]), (-at[1], -at[2], -at[0]), 0.25)

        def shape(t: float, _: float) -> tuple[Vector, Vector]:
            phase = (t * hz) % 1.0
            a = swing_g * math.sin(2 * math.pi * hz * t)
            if phase < 0.04 * hz:  # the 35-40 ms the hands take to stop each other
                a += 2.5 * math.sin(math.pi * phase / (0.04 * hz))
            return at, _scale(across, a)

        self.add(length_s, shape, at)

    def hop(self, hops: int, posture: Vector) -> None:
        """Hopping on the spot: a push-off, 0.2-0.25 s in the air (near 0 g), a landing."""
        for _ in range(hops):
            flight = self.rng.uniform(0.2, 0.25)
            landing = self.rng.uniform(3.0, 4.5)

            def shape(
                t: float, _: float, f: float = flight, peak: float = landing
            ) -> tuple[Vector, Vector]:
                if t < 0.15:
                    return posture, _scale(posture, 0.8 * _half_sine(t, 0, 0.15))
                if t < 0.15 + f:
                    return posture, _scale(posture, -0.9)
                return posture, _scale(posture, (peak - 1.0) * _half_sine(t, 0.15 + f, 0.07))

            self.add(0.15 + flight + 0.12, shape, posture)
