"""How a wrist sensor and the path that records it turn motion into samples.

The synthetic recordings (firmware_mocks/fall_recordings.py) describe motion as a
continuous function of time. A :class:`SensorModel` samples it the way real devices
do: at 12.5-200 Hz, band-limited by the sensor's filter (or not: ``aliased``),
clipped at its range (+-4 g, +-8 g), mounted on either wrist and turned any way, in g
or m/s^2; and the way recording paths deliver it: jittered timestamps, batches under
one timestamp, lost samples, copies filled in for lost packets, a hole in the stream.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Vector = tuple[float, float, float]
Sample = tuple[float, float, float, float]
# Motion as the generator describes it: time -> acceleration the sensor would measure.
Motion = Callable[[float], Vector]

_G = 9.80665
# The motion is integrated over each sample period at this rate (a band-limited sensor
# averages what happens between its samples).
_INNER_HZ = 400.0


@dataclass(frozen=True, slots=True)
class SensorModel:
    rate_hz: float = 50.0
    jitter: float = 0.2  # timestamps move by up to this share of a period
    clip_g: float = 8.0  # the sensor's range per axis
    noise_g: float = 0.01
    aliased: bool = False  # point samples without an anti-aliasing filter
    rotate: bool = False  # the sensor turned at random in the band
    mirror: bool = False  # worn on the other wrist (one axis reversed)
    units: Literal["g", "m/s2"] = "g"
    batch: int = 1  # samples delivered under one timestamp
    loss_fraction: float = 0.0  # samples lost on the way
    repeat_fraction: float = 0.0  # samples replaced by a copy of the one before
    gap_s: float = 0.0  # one hole in the stream, a fifth of the way in

    def __post_init__(self) -> None:
        if not 1.0 <= self.rate_hz <= _INNER_HZ:
            raise ValueError(f"rate_hz must be 1-{_INNER_HZ:g} Hz, not {self.rate_hz:g}")
        if self.batch < 1:
            raise ValueError("batch must be 1 or more")

    def sample(self, motion: Motion, duration_s: float, rng: random.Random) -> list[Sample]:
        """The samples a device records of ``motion`` over ``duration_s`` seconds."""
        dt = 1.0 / self.rate_hz
        inner = max(1, round(_INNER_HZ / self.rate_hz))
        # One draw whether turned or not, so that the same seed gives the same noise.
        mounting = random.Random(rng.random())
        turn = _random_rotation(mounting) if self.rotate else None
        scale = _G if self.units == "m/s2" else 1.0
        gap_start = duration_s / 5
        out: list[Sample] = []
        previous: Vector | None = None
        n = int(duration_s * self.rate_hz)
        for i in range(n):
            t = i * dt
            if self.gap_s > 0 and gap_start <= t < gap_start + self.gap_s:
                continue
            if self.aliased:
                v = motion(t)
            else:
                parts = [motion(t + (k + 0.5) * dt / inner - dt / 2) for k in range(inner)]
                v = tuple(sum(p[a] for p in parts) / inner for a in range(3))  # type: ignore[assignment]
            v = (
                v[0] + rng.gauss(0, self.noise_g),
                v[1] + rng.gauss(0, self.noise_g),
                v[2] + rng.gauss(0, self.noise_g),
            )
            if turn is not None:
                v = _apply(turn, v)
            if self.mirror:
                v = (-v[0], v[1], v[2])
            v = (_clip(v[0], self.clip_g), _clip(v[1], self.clip_g), _clip(v[2], self.clip_g))
            if previous is not None and rng.random() < self.repeat_fraction:
                v = previous
            previous = v
            if rng.random() < self.loss_fraction:
                continue
            out.append((t, v[0] * scale, v[1] * scale, v[2] * scale))
        return [
            (round(t, 5), round(x, 4), round(y, 4), round(z, 4))
            for t, x, y, z in self._timestamps(out, rng)
        ]

    def _timestamps(self, samples: list[Sample], rng: random.Random) -> list[Sample]:
        dt = 1.0 / self.rate_hz
        out: list[Sample] = []
        last_t = -math.inf
        for t, x, y, z in samples:
            # Jitter by up to ``jitter`` of a period, never going backwards.
            ts = max(last_t, t + rng.uniform(-self.jitter, self.jitter) * dt)
            last_t = ts
            out.append((ts, x, y, z))
        if self.batch > 1:
            # A batch goes out stamped with the time of its last sample.
            for start in range(0, len(out), self.batch):
                chunk = out[start : start + self.batch]
                stamp = chunk[-1][0]
                out[start : start + self.batch] = [(stamp, x, y, z) for _, x, y, z in chunk]
        return out


def _clip(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))


def _random_rotation(rng: random.Random) -> tuple[Vector, Vector, Vector]:
    """A uniformly random rotation matrix (from a random unit quaternion)."""
    q = [rng.gauss(0, 1) for _ in range(4)]
    n = math.sqrt(sum(c * c for c in q))
    w, x, y, z = (c / n for c in q)
    return (
        (1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)),
        (2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)),
        (2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)),
    )


def _apply(m: tuple[Vector, Vector, Vector], v: Vector) -> Vector:
    return (
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    )
