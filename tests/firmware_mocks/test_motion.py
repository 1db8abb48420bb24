"""The band's motion step: resampling, the full-rate fall detector, interval summaries."""

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_mocks.fall_detector import FallEvidence
from firmware_mocks.fall_recordings import ADLS, FALLS, recording
from firmware_mocks.motion import (
    GRID_HZ,
    FallThresholds,
    GridSample,
    IntervalSummariser,
    MotionFirmware,
    MotionOutput,
    Mounting,
    Resampler,
    gravity_from,
    orientation,
    run_firmware,
)
from firmware_mocks.sensor_model import SensorModel

_DT = 1 / GRID_HZ


@settings(max_examples=80, deadline=None)
@given(
    rate=st.floats(10.0, 200.0),
    grid=st.sampled_from([12.5, 25.0, 40.0, 50.0, 100.0]),
    jitter=st.floats(0.0, 0.45),
    batch=st.integers(1, 8),
    seconds=st.floats(1.0, 6.0),
    seed=st.integers(0, 2**16),
)
def test_any_rate_with_jitter_and_batches_becomes_a_steady_grid_at_the_bands_rate(
    rate: float, grid: float, jitter: float, batch: int, seconds: float, seed: int
):
    rng = random.Random(seed)
    r = Resampler(grid)
    out = []
    n = int(rate * seconds)
    for i in range(n):
        # Samples arrive in batches stamped alike, with jitter, never going backwards.
        t = (i // batch) * batch / rate + rng.uniform(0, jitter) / rate
        x = math.sin(i / 7)
        out += r.push(t, x, -x, 1.0)
    out += r.flush()
    steps = [b.t - a.t for a, b in itertools.pairwise(out)]
    assert all(s == pytest.approx(1 / grid, abs=1e-6) for s in steps)
    assert all(-1.0 <= s.x <= 1.0 and s.z == pytest.approx(1.0) for s in out)
    duration = out[-1].t - out[0].t if out else 0.0
    assert duration == pytest.approx((n - 1) / rate, abs=batch / rate + 2 / grid + jitter / rate)


def test_the_band_runs_only_at_rates_a_band_can_run_at():
    for rate in (12.5, 100.0):
        assert Resampler(rate).rate_hz == rate
    for rate in (10.0, 200.0, float("nan")):
        with pytest.raises(ValueError, match=r"12\.5-100 Hz"):
            Resampler(rate)


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


def _flags(activity: str, sensor: SensorModel, seed: int) -> list[MotionOutput]:
    samples = recording(activity, random.Random(seed)).record(sensor)
    rate = min(100.0, sensor.rate_hz)
    return [o for o in run_firmware(samples, sensor_rate_hz=rate) if o.fall_flag]


@pytest.mark.parametrize("rate", [12.5, 25.0, 50.0, 100.0])
@pytest.mark.parametrize("activity", FALLS)
def test_a_fall_raises_the_bands_flag_once(activity: str, rate: float):
    for seed in range(3):
        samples = recording(activity, random.Random(seed)).samples(rate)
        peak_t = max(samples, key=lambda s: s[1] ** 2 + s[2] ** 2 + s[3] ** 2)[0]
        (flag,) = [o for o in run_firmware(samples, sensor_rate_hz=rate) if o.fall_flag]
        assert flag.evidence is not None
        # Judged 2.5 s after the impact, give or take a sample period.
        assert flag.t - peak_t == pytest.approx(2.5, abs=0.1 + 1 / rate)


def test_moving_after_landing_still_raises_the_flag():
    # SF3: a trip, then the person keeps trying to get up - the wrist is never calm.
    for seed in range(5):
        (flag,) = _flags("SF3", SensorModel(25.0), seed)
        assert flag.evidence is not None
        assert flag.evidence.calm_spread > 0.05
        assert flag.evidence.active_after_g > 0.03


@pytest.mark.parametrize("rate", [12.5, 50.0])
@pytest.mark.parametrize("activity", ADLS)
def test_daily_activities_do_not_raise_the_flag(activity: str, rate: float):
    for seed in range(3):
        assert _flags(activity, SensorModel(rate), seed) == []


@pytest.mark.parametrize("activity", ["SF1", "SF2", "SA3", "SA4", "SA8"])
def test_either_wrist_and_any_mounting_give_the_same_evidence(activity: str):
    def evidence(sensor: SensorModel) -> list[tuple[float, ...]]:
        firmware = MotionFirmware(sensor_rate_hz=50.0)
        for s in recording(activity, random.Random(3)).record(sensor):
            firmware.push(*s)
        firmware.finish()
        return [
            (e.peak_t, e.peak_g, e.dose_g_s, e.posture_deg, e.calm_spread, float(e.flagged))
            for e in firmware.detector.evidence
        ]

    # Same noise draws: only the sensor's orientation in the band differs.
    plain = evidence(SensorModel(50.0, noise_g=0.0, clip_g=16.0))
    turned = evidence(SensorModel(50.0, noise_g=0.0, clip_g=16.0, rotate=True, mirror=True))
    assert len(plain) == len(turned)
    for a, b in zip(plain, turned, strict=True):
        # Equal up to the 0.1 mg rounding of the samples written out.
        assert a == pytest.approx(b, rel=1e-3, abs=1e-2)


def test_a_saturating_sensor_still_sees_the_fall():
    for clip in (4.0, 8.0):
        for seed in range(3):
            (flag,) = _flags("SF1", SensorModel(50.0, clip_g=clip, rotate=True), seed)
            assert flag.evidence is not None
            assert flag.evidence.peak_g <= clip * math.sqrt(3) + 0.1


def test_a_fall_after_jogging_or_amid_clapping_is_vetoed_but_a_walk_is_not():
    th = FallThresholds()
    assert th.vetoed(rhythm_peaks=5, active_before_g=0.1, active_after_g=0.05)
    assert th.vetoed(rhythm_peaks=0, active_before_g=0.6, active_after_g=0.05)
    assert th.vetoed(rhythm_peaks=0, active_before_g=0.1, active_after_g=0.6)
    # Walking before (0.15-0.2 g) and trying to get up after (0.1-0.3 g) are not vetoes.
    assert not th.vetoed(rhythm_peaks=1, active_before_g=0.2, active_after_g=0.3)


def test_sensitivity_levels_order_the_thresholds():
    low, standard, high = (
        FallThresholds.for_sensitivity(lvl) for lvl in ("low", "standard", "high")
    )
    assert standard == FallThresholds()
    assert high.score_to_flag < standard.score_to_flag < low.score_to_flag
    assert high.posture_deg[0] < standard.posture_deg[0]
    assert low.active_after_g < standard.active_after_g
    with pytest.raises(ValueError, match="extreme"):
        FallThresholds.for_sensitivity("extreme")


def test_a_soft_fall_is_flagged_for_a_frail_resident_only():
    # A slump from a chair: a moderate impact, the wrist turning by 45 degrees, then
    # lying still.
    slump = FallEvidence(
        peak_t=10.0,
        decided_t=12.5,
        peak_g=3.2,
        dose_g_s=0.45,
        posture_deg=45.0,
        calm_spread=0.1,
        tumble_g=0.25,
        rhythm_peaks=0,
        active_before_g=0.05,
        active_after_g=0.05,
        score=0.0,
        flagged=False,
    )
    levels = {lvl: FallThresholds.for_sensitivity(lvl) for lvl in ("low", "standard", "high")}
    assert [slump.judged_by(th)[1] for th in levels.values()] == [False, False, True]


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
