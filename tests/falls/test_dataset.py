"""The dataset reader takes any bytes and either reads them or says what is wrong."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silverguard.falls.dataset import DatasetError, read_index, read_samples

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
def test_any_index_and_recording_is_read_or_refused_with_a_dataset_error(
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
        recordings = read_index(tmp_path)
    except DatasetError:
        return
    for recording in recordings:
        problem = ""
        try:
            samples = read_samples(recording)
        except DatasetError as exc:
            problem = str(exc)
        if problem:
            assert recording.file in problem  # the message names the file
        else:
            assert all(len(s) == 4 for s in samples)
