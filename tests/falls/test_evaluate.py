"""``silverguard falls evaluate`` on generated recordings from every kind of device."""

import json
import shutil
from pathlib import Path

import pytest

from firmware_mocks.fall_recordings import ADLS, FALLS, write_dataset
from firmware_mocks.sensor_model import SensorModel
from silverguard.cli import main
from silverguard.falls.evaluate import evaluate
from silverguard.falls.report import percentile

FIELDS = (
    "recordings",
    "sensitivity",
    "specificity",
    "false_alarms_per_hour",
    "latency_median_s",
    "latency_p95_s",
    "refused",
    "worst_activities",
    "fall_sensitivity",
)
ALL = len(FALLS) + len(ADLS)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("falls")
    write_dataset(directory, per_activity=4, rate_hz=50.0, seed=11)
    return directory


def test_json_report_has_the_promised_figures(dataset: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["falls", "evaluate", str(dataset), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(FIELDS) <= report.keys()
    assert report["recordings"] == 4 * ALL
    # Synthetic falls are textbook falls: all are found (also the ones where the person
    # tries to get up), and no daily activity alarms - not clapping, hopping or lying
    # down on a bed either.
    assert report["sensitivity"] == 1.0
    assert report["specificity"] == 1.0
    assert report["false_alarms_per_hour"] == 0.0
    assert report["refused"] == []
    # The band judges 2.5 s after the impact; the gateway decides within 3 s.
    assert 2.0 <= report["latency_median_s"] <= report["latency_p95_s"] <= 3.0
    assert report["latency_within_target"] == 1.0
    rows = {row["activity"]: row for row in report["by_activity"]}
    assert rows["SF3"] == {"activity": "SF3", "is_fall": True, "recordings": 4, "flagged": 4}
    assert rows["SA4"]["flagged"] == rows["SA4"]["false_alarms"] == 0
    assert rows["SA4"]["false_alarms_per_hour"] == 0.0


def test_text_report_names_each_activity(dataset: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["falls", "evaluate", str(dataset)]) == 0
    out = capsys.readouterr().out
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
    assert report.sensitivity == pytest.approx(8 / 12)  # SF2 and SF3 found, SA6 "falls" not
    assert report.specificity == pytest.approx(28 / 32)  # SF1 flagged among the ADLs
    assert report.false_alarms == 4
    assert report.false_alarms_per_hour == pytest.approx(4 / report.adl_hours)
    assert [row.activity for row in report.worst_activities()] == ["SF1"]


@pytest.mark.parametrize(
    ("sensor", "min_sensitivity", "warning"),
    [
        # A cheap band at its slowest rate: impacts come out lower and broader, and a fall
        # may be missed (at least 8 of the 9 are found).
        (SensorModel(12.5), 0.85, None),
        # No anti-aliasing filter, a +-4 g sensor, jittered clock.
        (SensorModel(25.0, aliased=True, clip_g=4.0, jitter=0.4), 1.0, None),
        # Turned any way in the band, on the other wrist, sampled fast.
        (SensorModel(100.0, rotate=True, mirror=True), 1.0, None),
        # A phone recording over Bluetooth: packets lost, copies filled in.
        (
            SensorModel(20.0, loss_fraction=0.1, repeat_fraction=0.05, jitter=0.4),
            0.85,
            "repeated the one before",
        ),
        # Batches of five under one timestamp, in m/s^2.
        (SensorModel(40.0, batch=5, units="m/s2"), 1.0, "m/s^2"),
        # A 0.6 s hole in the stream.
        (SensorModel(50.0, gap_s=0.6), 1.0, None),
        # A fast lab sensor the band averages down to 100 Hz.
        (SensorModel(200.0, clip_g=8.0), 1.0, None),
    ],
    ids=[
        "12.5Hz",
        "25Hz-aliased-4g",
        "100Hz-rotated",
        "20Hz-lossy",
        "40Hz-batched-ms2",
        "gap",
        "200Hz",
    ],
)
def test_any_device_is_read_and_judged(
    tmp_path: Path, sensor: SensorModel, min_sensitivity: float, warning: str | None
):
    write_dataset(tmp_path, per_activity=3, sensor=sensor, seed=7)
    report = evaluate(tmp_path)
    assert report.refused == []
    assert len(report.results) == 3 * ALL
    assert report.sensitivity is not None
    assert report.sensitivity >= min_sensitivity
    assert report.specificity == 1.0
    assert all(lat <= 3.0 for lat in report.latencies)
    if warning is not None:
        assert all(any(warning in w for w in r.warnings) for r in report.results)


def test_the_band_rate_can_be_forced(dataset: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["falls", "evaluate", str(dataset), "--band-rate", "25", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["band_rate_hz"] == [25.0]
    assert report["data_rate_hz"]["median"] == pytest.approx(50, abs=1)
    assert report["sensitivity"] == 1.0
    assert main(["falls", "evaluate", str(dataset), "--band-rate", "5"]) == 2
    assert "12.5-100 Hz" in capsys.readouterr().err


def test_percentiles_interpolate():
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0], 95) == pytest.approx(1.95)


def test_sensitivity_levels_are_offered(dataset: Path, capsys: pytest.CaptureFixture[str]):
    for level in ("low", "standard", "high"):
        assert main(["falls", "evaluate", str(dataset), "--sensitivity", level, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["fall_sensitivity"] == level
        assert report["sensitivity"] == 1.0


def test_generate_writes_the_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["falls", "generate", str(tmp_path), "--per-activity", "1", "--rate", "25"]) == 0
    assert f"wrote {ALL} recordings" in capsys.readouterr().out
    index = (tmp_path / "index.csv").read_text().splitlines()
    assert len(index) == 1 + ALL
    assert {line.split(",")[2] for line in index[1:]} == set(FALLS + ADLS)
    assert all(line.split(",")[-1] == "25" for line in index[1:])
    assert main(["falls", "generate", str(tmp_path), "--rate", "500"]) == 2
    assert main(["falls", "generate", str(tmp_path), "--rate", "10"]) == 2


def test_generate_can_play_an_untidy_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    args = ["--per-activity", "1", "--rate", "20", "--units", "m/s2", "--rotate", "--aliased"]
    args += ["--batch", "4", "--repeats", "0.05", "--loss", "0.05", "--clip", "4"]
    assert main(["falls", "generate", str(tmp_path), *args]) == 0
    capsys.readouterr()
    report = evaluate(tmp_path)
    assert report.refused == []
    assert len(report.results) == ALL
    kinds = report.warning_counts()
    assert kinds["acceleration looks like m/s^N"] == ALL
    assert any("shared a timestamp" in kind for kind in kinds)  # batches spread out
    assert all(abs(r.band_rate_hz - 20.0) <= 1.0 for r in report.results)
