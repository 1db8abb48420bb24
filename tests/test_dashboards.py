"""Every dashboard query runs against a real InfluxDB holding real telemetry."""

import importlib.util
import json
import time
from pathlib import Path

import httpx
import pytest

from contract import Health, Reading
from fleet.settings import InfluxSettings
from fleet.timeseries.influx import InfluxWriter, health_lines, telemetry_lines
from silverguard.servers.influxdb import InfluxServer

DASHBOARDS = Path(__file__).parent.parent / "dashboards"


def _build_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("dashboards_build", DASHBOARDS / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_dashboards_match_the_code():
    build = _build_module()
    for name, make in build.DASHBOARDS.items():
        assert json.loads((DASHBOARDS / name).read_text()) == make(), (
            f"run python dashboards/build.py ({name})"
        )


@pytest.fixture
def influx(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = InfluxServer(tmp_path / "influx").start()
    yield server
    server.stop()


async def test_every_panel_query_runs_and_returns_data(influx: InfluxServer):
    writer = InfluxWriter(InfluxSettings(url=influx.url, database="silverguard"))
    await writer.ensure_database()
    now = time.time()
    readings = [
        Reading(
            device=f"C2:00:00:00:00:0{i}",
            ts=now - 60 + s,
            rssi=-60 - i,
            fields={"battery": 80 - i, "steps": 100 + s, "peak_g": 1.2, "moving": True},
        )
        for i in range(3)
        for s in range(0, 60, 10)
    ]
    writer.add(telemetry_lines("gw-01", readings))
    for s in range(0, 60, 10):
        writer.add(
            health_lines(
                Health(
                    gateway="gw-01",
                    ts=now - 60 + s,
                    uptime_s=s,
                    figures={
                        "outbox_events": 0,
                        "outbox_telemetry": 1,
                        "rejected_replay": s,
                        "rejected_wrong_key": 0,
                        "rejected_unknown_device": 2,
                    },
                )
            )
        )
    await writer.flush()
    dashboard = json.loads((DASHBOARDS / "silverguard-overview.json").read_text())
    queries = [t["query"] for p in dashboard["panels"] for t in p["targets"]]
    queries.append(dashboard["templating"]["list"][0]["query"])
    async with httpx.AsyncClient() as client:
        for query in queries:
            q = (
                query.replace("$timeFilter", "time > now() - 1h")
                .replace("$__interval", "10s")
                .replace("$device", ".*")
            )
            response = await client.post(f"{influx.url}/query", data={"q": q, "db": "silverguard"})
            assert response.status_code == 200, (query, response.text)
            result = response.json()["results"][0]
            assert "error" not in result, (query, result)
            assert result.get("series"), f"no data for: {query}"
    await writer.aclose()
