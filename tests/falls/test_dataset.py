"""The readers take any bytes and either read them or say, per file, what is wrong."""

import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silverguard.falls.dataset import DatasetError, read_index
from silverguard.falls.recording import clean, read_recording
from silverguard.falls.sensor_clock import RecordingRefused

_ROWS = st.lists(
    st.tuples(
        st.one_of(st.floats(allow_nan=True), st.text(max_size=5)),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-100, 100),
        st.floats(-8, 8),
    ),
    max_size=60,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.binary(max_size=300),
    rows=_ROWS,
    rate=st.one_of(st.floats(0, 500), st.text(max_size=4)),
)
def test_any_index_and_recording_is_read_or_refused_naming_the_file(
    tmp_path: Path, raw: bytes, rows: list[tuple[object, ...]], rate: object
):
    (tmp_path / "index.csv").write_text(
        f"file,subject,activity,is_fall,sample_rate_hz\nraw.csv,s,A,1,{rate}\nrows.csv,s,B,0,{rate}\n"
    )
    (tmp_path / "raw.csv").write_bytes(raw)
    (tmp_path / "rows.csv").write_text(
        "t_s,ax_g,ay_g,az_g\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    )
    try:
        index = read_index(tmp_path)
    except DatasetError:
        return
    for recording in index.recordings:
        try:
            data = read_recording(recording)
        except RecordingRefused as exc:
            problem = str(exc)
        else:
            problem = ""
        if problem:
            assert problem.startswith(f"{recording.file}: ")  # the message names the file
            continue
        times = [s[0] for s in data.samples]
        assert times == sorted(times)
        assert all(math.isfinite(v) for s in data.samples for v in s)
        assert 10.0 <= data.rate_hz <= 250.0


@settings(max_examples=80, deadline=None)
@given(
    rate=st.floats(12.5, 200.0),
    # Up to 30 % of a period: what a phone or gateway stamping BLE packets adds. (Beyond
    # that the clock cannot be told and the timestamps are used as they are.)
    jitter=st.floats(0.0, 0.3),
    batch=st.integers(1, 6),
    repeat=st.floats(0.0, 0.3),
    mps2=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_jittered_batched_repeated_streams_come_out_in_g_at_their_rate(
    rate: float, jitter: float, batch: int, repeat: float, mps2: bool, seed: int
):
    rng = random.Random(seed)
    n = int(rate * 4)
    scale = 9.80665 if mps2 else 1.0
    rows: list[tuple[int, list[str]]] = []
    last = (0.0, 0.0, 0.0)
    stamp = 0.0
    for i in range(n):
        # A wrist moving gently: never the same reading twice, unless a copy is sent.
        value = (0.3 * math.sin(i / 5), 0.2 * math.cos(i / 7), 1.0 + 0.05 * math.sin(i / 3))
        if i and rng.random() < repeat:
            value = last
        last = value
        if i % batch == 0:  # a batch goes out under one (jittered) timestamp
            stamp = (i + batch) / rate + rng.uniform(-jitter, jitter) / rate
        rows.append((i + 2, [f"{stamp:.6f}", *(f"{v * scale:.6f}" for v in value)]))
    data = clean(rows, rate)
    times = [s[0] for s in data.samples]
    assert times == sorted(times)
    # The copies are gone, the rate is the sensor's (copies counted), the unit is g.
    assert all(a[1:] != b[1:] for a, b in zip(data.samples, data.samples[1:], strict=False))
    assert data.rate_hz == pytest.approx(rate, rel=0.1)
    assert all(0.5 < math.sqrt(x * x + y * y + z * z) < 1.5 for _, x, y, z in data.samples)
    assert any("m/s^2" in w for w in data.warnings) == mps2
