"""``silverguard sim city`` on a small town: every reading sent is stored, every SOS is
acknowledged under the load, the figures are there, and nothing it started outlives it."""

from pathlib import Path

import psutil
import pytest

from silverguard.sim.city import City, run

pytestmark = [pytest.mark.e2e]


def _ours(workdir: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(workdir) in cmdline:
            found.append(cmdline)
    return found


def test_a_small_city_runs_and_stops_everything(tmp_path: Path) -> None:
    city = City(
        wristbands=600, gateways=12, fleets=1, duration_s=4, telemetry_interval_s=1, sos_every_s=0.5
    )
    figures = run(city, tmp_path)
    assert figures["readings_sent"] > 0
    assert figures["readings_stored"] == figures["readings_sent"]
    assert figures["alerts_sent"] >= 4
    assert figures["alerts_acked"] == figures["alerts_sent"]
    assert figures["broker_connections"] == 13
    assert set(figures["processes"]) >= {"fleet-0", "mosquitto", "influxdb", "simulator"}
    assert all(p["rss_mb"] > 0 for p in figures["processes"].values())
    assert figures["saturates_first"] in figures["utilisation"]
    assert figures["lag_p99_s"] < 30
    assert _ours(tmp_path) == []
