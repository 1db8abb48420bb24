"""Bad recordings are refused one by one, in words; the run goes on with the others."""

import json
import math
import re
from pathlib import Path

import pytest

from silverguard.cli import main
from silverguard.falls.dataset import DatasetError, read_index
from silverguard.falls.evaluate import evaluate

HEADER = "file,subject,activity,is_fall,sample_rate_hz\n"


def _rows(values: list[tuple[float, float, float, float]]) -> str:
    return "t_s,ax_g,ay_g,az_g\n" + "".join(f"{t:.4f},{x},{y},{z}\n" for t, x, y, z in values)


def _resting(
    n: int = 300, rate: float = 50.0, g: float = 1.0
) -> list[tuple[float, float, float, float]]:
    # A band lying still: gravity plus a little sensor noise.
    return [(i / rate, 0.01 * math.sin(i), 0.01 * math.cos(i * 1.3), g) for i in range(n)]


GOOD = _rows(_resting())


def _dataset(directory: Path, files: dict[str, str], rates: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rates = rates or {}
    index = HEADER + "".join(f"{name},s1,A,0,{rates.get(name, '50')}\n" for name in files)
    (directory / "index.csv").write_text(index)
    for name, text in files.items():
        if text:
            (directory / name).write_text(text)
    return directory


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            _rows([(i / 50, math.nan, 0.0, 1.0) for i in range(100)]),
            r"100 of 100 rows are not four numbers",
        ),
        (_rows([(i / 50, 0.0, 0.0, 1.0) for i in range(200)]), r"the signal is constant \(0, 0, 1"),
        (
            _rows(_resting(100) + [(t - 5.0, x, y, z) for t, x, y, z in _resting(100, g=1.01)]),
            r"the clock runs backwards: t_s drops by 6\.980 s \(from 1\.98 to -5 s\)",
        ),
        (
            _rows(_resting(g=0.25)),
            r"median magnitude 0\.25 is neither about 1 \(g\) nor about 9\.81",
        ),
        (
            _rows([(i * 2.0, 0.01 * (i % 3), 0.0, 1.0) for i in range(100)]),
            r"0\.5 samples/s.*is t_s in seconds",
        ),
        (_rows(_resting()[::-1]), r"goes down at 299 of 299 steps; is the file in reverse order"),
        ("time,x,y,z\n0,0,0,1\n", "header is time,x,y,z"),
        ("", "file not found"),
        (_rows(_resting(1)), r"1 sample\(s\); a recording needs more"),
    ],
    ids=[
        "nan",
        "constant",
        "reset",
        "mis-scaled",
        "slow",
        "reversed",
        "header",
        "missing",
        "one-sample",
    ],
)
def test_a_bad_recording_is_refused_with_its_reason_and_the_rest_evaluated(
    tmp_path: Path, text: str, reason: str, capsys: pytest.CaptureFixture[str]
):
    directory = _dataset(tmp_path / "ds", {"good.csv": GOOD, "bad.csv": text})
    assert main(["falls", "evaluate", str(directory), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["recordings"] == 1
    ((refused),) = report["refused"]
    assert refused["file"] == "bad.csv"
    assert re.search(reason, refused["reason"]), refused["reason"]
    assert main(["falls", "evaluate", str(directory)]) == 0
    assert "refused 1 recording(s):" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "rates", "warning"),
    [
        (_rows(_resting(g=9.80665)), {}, r"looks like m/s\^2 \(median magnitude 9\.8"),
        (
            _rows([(t * 1000, x, y, z) for t, x, y, z in _resting()]),
            {},
            "t_s looks like milliseconds",
        ),
        (
            _rows(_resting()),
            {"a.csv": "32"},
            "timestamps give 50.0 samples/s but index.csv says 32 Hz",
        ),
        (_rows(_resting()), {"a.csv": "fast"}, None),
        (
            _rows([*_resting()[:50], (3.0, 0.0, 0.0, math.nan), *_resting()[51:]]),
            {},
            r"1 rows not four numbers \(NaN, empty or text, first at line 52\)",
        ),
        (
            _rows(
                [(t if i % 7 else t + 0.03, x, y, z) for i, (t, x, y, z) in enumerate(_resting())]
            ),
            {},
            "out of time order",
        ),
        (_rows([(round(t * 10) / 10, x, y, z) for t, x, y, z in _resting()]), {}, "in batches"),
    ],
    ids=["m/s2", "milliseconds", "nominal-rate", "no-nominal-rate", "one-nan", "jitter", "batches"],
)
def test_what_can_be_read_is_read_with_a_warning(
    tmp_path: Path, text: str, rates: dict[str, str], warning: str | None
):
    directory = _dataset(tmp_path / "ds", {"a.csv": text}, rates)
    report = evaluate(directory)
    assert report.refused == []
    (result,) = report.results
    assert result.data_rate_hz == pytest.approx(50.0, rel=0.05)
    assert result.peak_g == pytest.approx(1.0, abs=0.05)  # in g, whatever the file used
    if warning is None:
        assert result.warnings == []
    else:
        assert any(re.search(warning, w) for w in result.warnings), result.warnings


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ("file,subject,activity\n", "missing column.*is_fall, sample_rate_hz"),
        (HEADER, "lists no recordings"),
    ],
)
def test_an_unreadable_index_stops_the_run(
    tmp_path: Path, index: str, message: str, capsys: pytest.CaptureFixture[str]
):
    tmp_path.joinpath("index.csv").write_text(index)
    assert main(["falls", "evaluate", str(tmp_path)]) == 2
    assert "silverguard falls evaluate:" in capsys.readouterr().err
    with pytest.raises(DatasetError, match=message):
        evaluate(tmp_path)


def test_bad_index_rows_refuse_only_their_recording(tmp_path: Path):
    (tmp_path / "good.csv").write_text(GOOD)
    (tmp_path / "index.csv").write_text(
        HEADER + "good.csv,s,A,0,50\nmaybe.csv,s,A,maybe,50\n../a.csv,s,A,1,50\n,s,A,1,50\n"
    )
    index = read_index(tmp_path)
    assert [r.file for r in index.recordings] == ["good.csv"]
    reasons = [r.reason for r in index.refused]
    assert "is_fall is 'maybe'" in reasons[0]
    assert "outside the dataset directory" in reasons[1]
    assert "empty 'file'" in reasons[2]


def test_nothing_readable_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    directory = _dataset(tmp_path / "ds", {"bad.csv": "garbage\n"})
    assert main(["falls", "evaluate", str(directory)]) == 2
    assert "no recording" in capsys.readouterr().err
    with pytest.raises(DatasetError, match=r"bad\.csv: header is garbage"):
        evaluate(directory)


def test_all_or_nothing_for_callers_that_want_it(tmp_path: Path):
    directory = _dataset(tmp_path / "ds", {"good.csv": GOOD, "bad.csv": "garbage\n"})
    with pytest.raises(DatasetError, match="1 recording"):
        evaluate(directory, skip_bad=False)


def test_a_missing_directory_or_index(tmp_path: Path):
    with pytest.raises(DatasetError, match="not a directory"):
        read_index(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"index\.csv not found"):
        read_index(tmp_path)
