"""``silverguard falls evaluate`` on generated recordings, and its refusals."""

import json
import shutil
from pathlib import Path

import pytest

from firmware_mocks.fall_recordings import ADLS, FALLS, write_dataset
from silverguard.cli import main
from silverguard.falls.dataset import DatasetError, read_index, read_samples
from silverguard.falls.evaluate import evaluate, percentile

FIELDS = (
    "recordings",
    "sensitivity",
    "specificity",
    "false_alarms_per_hour",
    "latency_median_s",
    "latency_p95_s",
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("falls")
    write_dataset(directory, per_activity=4, rate_hz=50.0, seed=11)
    return directory


def test_json_report_has_the_promised_figures(dataset: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["falls", "evaluate", str(dataset), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(FIELDS) <= report.keys()
    assert report["recordings"] == 4 * (len(FALLS) + len(ADLS))
    # Synthetic falls are textbook falls: all are found, and no daily activity alarms.
    assert report["sensitivity"] == 1.0
    assert report["specificity"] == 1.0
    assert report["false_alarms_per_hour"] == 0.0
    assert 2.0 <= report["latency_median_s"] <= report["latency_p95_s"] <= 3.5
    rows = {row["activity"]: row for row in report["by_activity"]}
    assert rows["SF1"] == {"activity": "SF1", "is_fall": True, "recordings": 4, "flagged": 4}
    assert rows["SA4"]["flagged"] == 0


def test_text_report_names_each_activity(dataset: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["falls", "evaluate", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "sensitivity" in out
    assert "100.0 %" in out
    for code in FALLS + ADLS:
        assert code in out


def test_misses_and_false_alarms_are_counted_per_recording(dataset: Path, tmp_path: Path):
    # Relabel: a fall recorded as an ADL is a false alarm, an ADL called a fall a miss.
    copy = tmp_path / "relabelled"
    shutil.copytree(dataset, copy)
    index = (copy / "index.csv").read_text().splitlines()
    swapped = [index[0]]
    for line in index[1:]:
        cells = line.split(",")
        if cells[2] in ("SF1", "SA6"):
            cells[4] = "0" if cells[4] == "1" else "1"
        swapped.append(",".join(cells))
    (copy / "index.csv").write_text("\n".join(swapped) + "\n")
    report = evaluate(copy)
    assert report.sensitivity == pytest.approx(4 / 8)  # SF2 found, SA6 "falls" not
    assert report.specificity == pytest.approx(20 / 24)  # SF1 flagged among the ADLs
    assert report.false_alarms == 4
    assert report.false_alarms_per_hour == pytest.approx(4 / report.adl_hours)


def test_other_sample_rates_and_jitter(tmp_path: Path):
    write_dataset(tmp_path, per_activity=2, rate_hz=100.0, seed=3, activities=("SF1", "SA1"))
    report = evaluate(tmp_path)
    assert report.sensitivity == 1.0
    assert report.specificity == 1.0


def test_percentiles_interpolate():
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0], 95) == pytest.approx(1.95)


def _write(directory: Path, index: str, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.csv").write_text(index)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


GOOD = "t_s,ax_g,ay_g,az_g\n" + "".join(f"{i / 50:.3f},0,0,1\n" for i in range(200))


@pytest.mark.parametrize(
    ("index", "files", "message"),
    [
        ("file,subject,activity\n", {}, "missing column.*is_fall, sample_rate_hz"),
        ("file,subject,activity,is_fall,sample_rate_hz\n", {}, "lists no recordings"),
        (
            "file,subject,activity,is_fall,sample_rate_hz\na.csv,s,A,1,400\n",
            {"a.csv": GOOD},
            "400 is outside 20-200 Hz",
        ),
        (
            "file,subject,activity,is_fall,sample_rate_hz\na.csv,s,A,maybe,50\n",
            {"a.csv": GOOD},
            "is_fall is 'maybe'",
        ),
        (
            "file,subject,activity,is_fall,sample_rate_hz\na.csv,s,A,1,50\n",
            {},
            "a.csv: file not found",
        ),
        (
            "file,subject,activity,is_fall,sample_rate_hz\na.csv,s,A,1,50\n",
            {"a.csv": "time,x,y,z\n0,0,0,1\n"},
            "header is time,x,y,z",
        ),
        (
            "file,subject,activity,is_fall,sample_rate_hz\na.csv,s,A,1,50\n",
            {"a.csv": "t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.02,zero,0,1\n"},
            "a.csv:3: not a number",
        ),
        (
            "file,subject,activity,is_fall,sample_rate_hz\na.csv,s,A,1,50\n",
            {"a.csv": "t_s,ax_g,ay_g,az_g\n0,0,0,9.81\n0.02,0,0,98.1\n"},
            "must be in g",
        ),
        (
            "file,subject,activity,is_fall,sample_rate_hz\na.csv,s,A,1,50\n",
            {"a.csv": "t_s,ax_g,ay_g,az_g\n" + "".join(f"{i * 20},0,0,1\n" for i in range(100))},
            "is t_s in seconds",
        ),
        (
            "file,subject,activity,is_fall,sample_rate_hz\n../a.csv,s,A,1,50\n",
            {},
            "outside the dataset directory",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(
    tmp_path: Path,
    index: str,
    files: dict[str, str],
    message: str,
    capsys: pytest.CaptureFixture[str],
):
    directory = _write(tmp_path / "ds", index, files)
    assert main(["falls", "evaluate", str(directory)]) == 2
    with pytest.raises(DatasetError, match=message):
        evaluate(directory)
    assert "silverguard falls evaluate:" in capsys.readouterr().err


def test_a_missing_directory_or_index(tmp_path: Path):
    with pytest.raises(DatasetError, match="not a directory"):
        read_index(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"index\.csv not found"):
        read_index(tmp_path)


def test_skip_bad_evaluates_the_rest(dataset: Path, tmp_path: Path):
    copy = tmp_path / "broken"
    shutil.copytree(dataset, copy)
    victim = sorted((copy / "data").iterdir())[0]
    victim.write_text("garbage\n")
    with pytest.raises(DatasetError, match="--skip-bad"):
        evaluate(copy)
    report = evaluate(copy, skip_bad=True)
    assert len(report.results) == 4 * (len(FALLS) + len(ADLS)) - 1
    assert len(report.skipped) == 1
    assert victim.name in report.skipped[0]


def test_samples_are_read_as_floats(dataset: Path):
    recording = read_index(dataset)[0]
    samples = read_samples(recording)
    assert len(samples) > 100
    assert all(len(s) == 4 for s in samples)


def test_generate_writes_the_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["falls", "generate", str(tmp_path), "--per-activity", "1", "--rate", "25"]) == 0
    assert "wrote 8 recordings" in capsys.readouterr().out
    recordings = read_index(tmp_path)
    assert {r.activity for r in recordings} == set(FALLS + ADLS)
    assert all(r.sample_rate_hz == 25 for r in recordings)
    assert main(["falls", "generate", str(tmp_path), "--rate", "500"]) == 2
