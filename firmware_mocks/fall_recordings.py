"""Synthetic wrist-accelerometer recordings of falls and daily activities.

Physically shaped, not learned from any dataset: a recording is a sequence of phases
(walking, sitting, a slip, a topple, an impact, lying), each giving the gravity
direction in the band and the dynamic acceleration on top of it. Written in the
layout ``silverguard falls evaluate`` reads (index.csv + one CSV per recording), at
any sample rate, with jittery timestamps, so the project's tests can run the whole
evaluation without a real dataset.

Activity codes: falls ``SF1`` (tripping while walking) and ``SF2`` (toppling from a
chair); daily activities ``SA1`` walking, ``SA2`` sitting down on a chair, ``SA3``
hitting a table while seated, ``SA4`` clapping, ``SA5`` jogging, ``SA6`` sitting still.
"""

import csv
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware_mocks.motion import Mounting, gravity_from

Vector = tuple[float, float, float]
# (t since the phase began, phase length) -> (gravity direction, dynamic acceleration)
Shape = Callable[[float, float], tuple[Vector, Vector]]

ACTIVITIES = {
    "SF1": "fall while walking (trip)",
    "SF2": "fall from a chair (topple)",
    "SA1": "walking",
    "SA2": "sitting down on a chair",
    "SA3": "hitting a table while seated",
    "SA4": "clapping",
    "SA5": "jogging",
    "SA6": "sitting still",
}
FALLS = ("SF1", "SF2")
ADLS = ("SA1", "SA2", "SA3", "SA4", "SA5", "SA6")
_MOUNT = Mounting()


def _posture(tilt_deg: float, roll_deg: float) -> Vector:
    """Sensor-frame unit gravity reading for a forearm tilt and wrist roll."""
    along, across, face = gravity_from(tilt_deg, roll_deg)
    # Default mounting: +z towards the elbow, +y out of the face, so across = -x.
    return (-across, face, along)


def _slerp(a: Vector, b: Vector, f: float) -> Vector:
    v = tuple(p + (q - p) * f for p, q in zip(a, b, strict=True))
    n = math.sqrt(sum(c * c for c in v)) or 1.0
    return (v[0] / n, v[1] / n, v[2] / n)


def _scale(v: Vector, k: float) -> Vector:
    return (v[0] * k, v[1] * k, v[2] * k)


def _half_sine(t: float, start: float, length: float) -> float:
    if start <= t < start + length:
        return math.sin(math.pi * (t - start) / length)
    return 0.0


@dataclass(frozen=True, slots=True)
class Phase:
    length_s: float
    shape: Shape


class Recorder:
    """Builds one recording from phases; random but reproducible from ``rng``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phases: list[Phase] = []
        self.last = _posture(-80, 0)  # arm hanging

    def add(self, length_s: float, shape: Shape, end_posture: Vector) -> None:
        self.phases.append(Phase(length_s, shape))
        self.last = end_posture

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
            g = _posture(hanging + swing, roll)
            bounce = bounce_g * math.sin(2 * math.pi * step_hz * t + phase)
            return g, _scale(g, bounce)

        self.add(length_s, shape, _posture(hanging, roll))

    def rotate(self, length_s: float, to: Vector, magnitude_g: float = 1.0) -> None:
        start = self.last

        def shape(t: float, n: float) -> tuple[Vector, Vector]:
            g = _slerp(start, to, min(1.0, t / n))
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
            g = _slerp(before, after, min(1.0, t / (length_s + 0.05)))
            a = (peak_g - 1.0) * _half_sine(t, 0.0, length_s)
            for delay, bump in bounces:
                a += (bump - 1.0) * _half_sine(t, length_s + delay, 0.08)
            # A settling body also dips below 1 g between the bumps.
            if t > length_s and bounces:
                a -= 0.4 * math.sin(math.pi * min(1.0, (t - length_s) / (total - length_s)))
            return g, _scale(g, a)

        self.add(total, shape, after)

    # -- output ----------------------------------------------------------------------

    def samples(
        self, rate_hz: float, *, jitter: float = 0.2, clip_g: float = 8.0, noise_g: float = 0.01
    ) -> list[tuple[float, float, float, float]]:
        out = []
        dt = 1.0 / rate_hz
        total = sum(p.length_s for p in self.phases)
        n = int(total * rate_hz)
        phase_start = 0.0
        index = 0
        last_t = -1.0
        for i in range(n):
            t = i * dt
            while index < len(self.phases) - 1 and t >= phase_start + self.phases[index].length_s:
                phase_start += self.phases[index].length_s
                index += 1
            p = self.phases[index]
            g, a = p.shape(t - phase_start, p.length_s)
            v = [
                max(-clip_g, min(clip_g, g[k] + a[k] + self.rng.gauss(0, noise_g)))
                for k in range(3)
            ]
            # Timestamps jitter by up to ``jitter`` of a period but never go backwards.
            ts = max(last_t, t + self.rng.uniform(-jitter, jitter) * dt)
            last_t = ts
            out.append((round(ts, 5), round(v[0], 4), round(v[1], 4), round(v[2], 4)))
        return out


def _lying(rng: random.Random) -> Vector:
    # On the floor the forearm lies roughly flat, and the body has turned over: on its
    # side or back the wrist is rolled far from the face-up of a seated forearm.
    return _posture(rng.uniform(-20, 25), rng.choice((-1, 1)) * rng.uniform(70, 180))


def recording(activity: str, rng: random.Random) -> Recorder:
    """One recording of ``activity`` (a key of ACTIVITIES)."""
    r = Recorder(rng)
    seated = _posture(rng.uniform(-15, 5), rng.uniform(-20, 20))
    if activity == "SF1":
        r.walk(rng.uniform(4, 6))
        lying = _lying(rng)
        r.rotate(rng.uniform(0.35, 0.5), _slerp(r.last, lying, 0.7), magnitude_g=0.35)
        r.impact(
            rng.uniform(4.5, 7.0),
            rng.uniform(0.08, 0.14),
            lying,
            [(rng.uniform(0.1, 0.25), rng.uniform(1.8, 2.6)), (rng.uniform(0.3, 0.5), 1.6)],
        )
        r.still(rng.uniform(6, 9), lying, tremor_g=0.02)
    elif activity == "SF2":
        r.still(rng.uniform(3, 5), seated)
        lying = _lying(rng)
        r.rotate(rng.uniform(0.8, 1.2), _slerp(seated, lying, 0.5))
        r.rotate(0.3, _slerp(seated, lying, 0.8), magnitude_g=0.4)
        r.impact(
            rng.uniform(3.8, 6.0),
            rng.uniform(0.08, 0.14),
            lying,
            [(rng.uniform(0.1, 0.2), rng.uniform(2.0, 2.8)), (rng.uniform(0.3, 0.45), 1.8)],
        )
        r.still(rng.uniform(6, 9), lying, tremor_g=0.02)
    elif activity == "SA1":
        r.walk(rng.uniform(12, 18))
    elif activity == "SA2":
        r.walk(rng.uniform(4, 6))
        r.rotate(0.6, _slerp(r.last, seated, 0.6), magnitude_g=0.85)
        r.impact(rng.uniform(1.5, 2.2), 0.15, seated, [])
        r.still(rng.uniform(6, 9), seated)
    elif activity == "SA3":
        r.still(rng.uniform(3, 5), seated)
        raised = _posture(rng.uniform(30, 50), 0)
        r.rotate(0.4, raised, magnitude_g=1.3)
        r.rotate(0.15, seated, magnitude_g=1.8)  # the swing down is driven by muscles
        r.impact(rng.uniform(3.5, 5.0), 0.035, seated, [])
        r.still(rng.uniform(5, 8), seated)
    elif activity == "SA4":
        r.still(rng.uniform(2, 3), seated)
        front = _posture(rng.uniform(10, 30), rng.uniform(70, 110))
        r.rotate(0.5, front, magnitude_g=1.2)
        for _ in range(rng.randrange(8, 14)):
            r.impact(rng.uniform(2.8, 4.0), 0.035, front, [])
            r.still(rng.uniform(0.25, 0.35), front, tremor_g=0.1)
        r.still(rng.uniform(3, 5), seated)
    elif activity == "SA5":
        step = rng.uniform(2.6, 3.0)
        for _ in range(int(rng.uniform(12, 16) * step)):
            r.walk(1 / step - 0.03, step_hz=step, bounce_g=0.8)
            r.impact(rng.uniform(3.0, 4.2), 0.03, r.last, [])
    elif activity == "SA6":
        r.still(rng.uniform(12, 18), seated, tremor_g=0.015)
    else:
        raise ValueError(f"unknown activity {activity!r}; use one of {', '.join(ACTIVITIES)}")
    return r


def write_dataset(
    directory: Path,
    *,
    per_activity: int = 5,
    rate_hz: float = 50.0,
    seed: int = 1,
    jitter: float = 0.2,
    activities: tuple[str, ...] = FALLS + ADLS,
) -> list[Path]:
    """Write a synthetic dataset (index.csv + data/*.csv); return the recordings' paths."""
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    with (directory / "index.csv").open("w", newline="") as index:
        writer = csv.writer(index)
        writer.writerow(
            ["file", "subject", "activity", "activity_desc", "is_fall", "sample_rate_hz"]
        )
        for activity in activities:
            for trial in range(1, per_activity + 1):
                subject = f"S{rng.randrange(1, 6):02d}"
                name = f"data/{activity}_{subject}_R{trial:02d}.csv"
                samples = recording(activity, rng).samples(rate_hz, jitter=jitter)
                with (directory / name).open("w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["t_s", "ax_g", "ay_g", "az_g"])
                    w.writerows(samples)
                writer.writerow(
                    [name, subject, activity, ACTIVITIES[activity], int(activity in FALLS), rate_hz]
                )
                paths.append(directory / name)
    return paths
