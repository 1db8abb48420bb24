"""The band's motion step: resampling, the full-rate fall detector, interval summaries."""

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_mocks.fall_recordings import recording
from firmware_mocks.motion import (
    GRID_HZ,
    FallThresholds,
    IntervalSummariser,
    MotionFirmware,
    Mounting,
    Resampler,
    gravity_from,
    orientation,
    run_firmware,
)

_DT = 1 / GRID_HZ


@settings(max_examples=80, deadline=None)
@given(
    rate=st.floats(20.0, 200.0),
    jitter=st.floats(0.0, 0.45),
    batch=st.integers(1, 8),
    seconds=st.floats(1.0, 6.0),
    seed=st.integers(0, 2**16),
)
def test_any_rate_with_jitter_and_batches_becomes_a_steady_50_hz_grid(
    rate: float, jitter: float, batch: int, seconds: float, seed: int
):
    rng = random.Random(seed)
    r = Resampler()
    out = []
    n = int(rate * seconds)
    for i in range(n):
        # Samples arrive in batches stamped alike, with jitter, never going backwards.
        t = (i // batch) * batch / rate + rng.uniform(0, jitter) / rate
        x = math.sin(i / 7)
        out += r.push(t, x, -x, 1.0)
    out += r.flush()
    steps = [b.t - a.t for a, b in itertools.pairwise(out)]
    assert all(s == pytest.approx(_DT, abs=1e-6) for s in steps)
    assert all(-1.0 <= s.x <= 1.0 and s.z == pytest.approx(1.0) for s in out)
    duration = out[-1].t - out[0].t if out else 0.0
    assert duration == pytest.approx((n - 1) / rate, abs=batch / rate + 2 * _DT + jitter / rate)


def test_samples_stepping_back_are_dropped_and_a_gap_restarts_the_grid():
    r = Resampler()
    out = []
    for i in range(50):
        out += r.push(i / 50, 0.0, 0.0, 1.0)
    out += r.push(0.5, 9.0, 9.0, 9.0)  # the sensor's clock stepped back
    for i in range(50):
        out += r.push(3.0 + i / 50, 0.0, 0.0, 1.0)  # two seconds lost
    out += r.flush()
    assert r.dropped_out_of_order == 1
    assert r.gaps == 1
    assert all(s.x == 0.0 for s in out)  # nothing interpolated across the hole
    assert max(b.t - a.t for a, b in itertools.pairwise(out)) > 1.9


def test_fast_sensors_are_averaged_per_bin():
    r = Resampler()
    out = []
    for i in range(400):  # 200 Hz, alternating +-1: averages to 0 per 20 ms bin
        out += r.push(i / 200, 1.0 if i % 2 else -1.0, 0.0, 1.0)
    assert all(abs(s.x) < 1e-9 for s in out)


@given(
    a=st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)),
    b=st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)),
    elbow=st.sampled_from(["+x", "-x", "+y", "-y", "+z", "-z"]),
)
def test_tilt_and_roll_keep_the_angle_between_postures(
    a: tuple[float, float, float], b: tuple[float, float, float], elbow: str
):
    norm = [math.sqrt(sum(c * c for c in v)) for v in (a, b)]
    if min(norm) < 0.1:
        return
    face = {"x": "+y", "y": "+z", "z": "+x"}[elbow[1]]
    mounting = Mounting(elbow=elbow, face=face)  # type: ignore[arg-type]
    ga, gb = (gravity_from(*orientation(v, mounting)) for v in (a, b))
    cos_in = sum(p * q for p, q in zip(a, b, strict=True)) / (norm[0] * norm[1])
    cos_out = sum(p * q for p, q in zip(ga, gb, strict=True))
    assert cos_out == pytest.approx(cos_in, abs=1e-6)


def test_the_band_reports_its_forearm_tilt():
    assert orientation((0.0, 0.0, 1.0), Mounting())[0] == pytest.approx(-90)  # hanging
    assert orientation((0.0, 0.0, -1.0), Mounting())[0] == pytest.approx(90)  # raised
    tilt, roll = orientation((0.0, 1.0, 0.0), Mounting())  # flat, face up
    assert (tilt, roll) == (pytest.approx(0), pytest.approx(0))


def _grid(values: list[tuple[float, float, float]]) -> IntervalSummariser:
    from firmware_mocks.motion import GridSample

    s = IntervalSummariser()
    for i, v in enumerate(values):
        s.add(GridSample(i * _DT, *v))
    return s


def test_a_still_wrist_does_not_move_and_a_shake_does():
    still = _grid([(0.0, 1.0, 0.005 * (i % 3)) for i in range(50)]).take()
    assert still is not None
    assert not still.moving
    assert still.peak_g == pytest.approx(1.0, abs=0.02)
    shaken = _grid([(0.0, 1.0 + 0.4 * math.sin(i), 0.0) for i in range(50)]).take()
    assert shaken is not None
    assert shaken.moving
    turned = _grid([(math.sin(i / 100), math.cos(i / 100), 0.0) for i in range(50)]).take()
    assert turned is not None
    assert turned.moving  # 28 degrees in a second, without any jolt


def _flags(activity: str, rate: float, seed: int) -> list[float]:
    samples = recording(activity, random.Random(seed)).samples(rate)
    return [o.t for o in run_firmware(samples, sensor_rate_hz=rate) if o.fall_flag]


@pytest.mark.parametrize("rate", [25.0, 50.0, 100.0])
@pytest.mark.parametrize("activity", ["SF1", "SF2"])
def test_a_fall_raises_the_bands_flag_once(activity: str, rate: float):
    for seed in range(3):
        samples = recording(activity, random.Random(seed)).samples(rate)
        peak_t = max(samples, key=lambda s: s[1] ** 2 + s[2] ** 2 + s[3] ** 2)[0]
        (flag,) = [o for o in run_firmware(samples, sensor_rate_hz=rate) if o.fall_flag]
        assert flag.evidence is not None
        assert flag.t - peak_t == pytest.approx(2.5, abs=0.15)  # judged 2.5 s after


@pytest.mark.parametrize("activity", ["SA1", "SA2", "SA3", "SA4", "SA5", "SA6"])
def test_daily_activities_do_not_raise_the_flag(activity: str):
    for seed in range(3):
        assert _flags(activity, 50.0, seed) == []


def test_a_table_hit_has_an_impact_but_not_the_rest_of_a_fall():
    firmware = MotionFirmware(sensor_rate_hz=50)
    for s in recording("SA3", random.Random(1)).samples(50):
        firmware.push(*s)
    (hit,) = firmware.detector.evidence
    assert hit.peak_g >= 3.0
    assert hit.dose_g_s < FallThresholds().dose_g_s[0]  # a hand stops, not a body
    assert not hit.flagged


def test_every_interval_gets_a_summary_and_the_flag_goes_out_at_once():
    samples = recording("SF1", random.Random(4)).samples(50)
    outputs = list(run_firmware(samples, 1.0, sensor_rate_hz=50))
    regular = [o for o in outputs if not o.fall_flag]
    assert len(regular) == pytest.approx(samples[-1][0], abs=1.5)
    (flag,) = [o for o in outputs if o.fall_flag]
    impact = max(regular, key=lambda o: o.summary.peak_g)
    assert impact.summary.peak_g >= 4.0
    assert flag.t - impact.t < 3.0


def test_slow_sensors_get_lower_impact_anchors():
    th = FallThresholds()
    assert th.for_sensor(50.0) is th
    slow = th.for_sensor(20.0)
    # Only the part above gravity shrinks with the sensor's bandwidth.
    assert slow.impact_g[0] == pytest.approx(1.0 + 2.0 * 0.5 ** (1 / 3))
    assert slow.for_sensor(20.0) == slow
    assert slow.posture_deg == th.posture_deg


def test_the_firmware_refuses_nonsense_settings():
    with pytest.raises(ValueError, match="interval"):
        MotionFirmware(0.0)
    with pytest.raises(ValueError, match="rate"):
        MotionFirmware(1.0, sensor_rate_hz=0.0)
