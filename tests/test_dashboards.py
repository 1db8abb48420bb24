"""Every dashboard query runs against a real InfluxDB holding real telemetry."""

import importlib.util
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from contract import Health, Reading
from fleet.main import create_app
from fleet.settings import FleetSettings, InfluxSettings
from fleet.timeseries.influx import InfluxWriter, fleet_lines, health_lines, telemetry_lines
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


def _queries(dashboard: dict) -> list[str]:  # type: ignore[type-arg]
    queries = [t["query"] for p in dashboard["panels"] for t in p["targets"]]
    return queries + [v["query"] for v in dashboard["templating"]["list"]]


def _fleet_figures(tmp_path: Path) -> dict[str, float | int | bool]:
    """What a real fleet process writes as its ``fleet`` point (before any traffic)."""
    app = create_app(FleetSettings(data_dir=tmp_path / "fleet"))
    figures: dict[str, float | int | bool] = app.state.fleet.figures()
    return figures


def test_panels_name_only_what_the_fleet_writes(tmp_path: Path) -> None:
    """Each query's measurement is one the fleet writes, and each field of the fleet's
    own measurement one that a fleet process reports."""
    written = {"wristband", "meter", "sensor", "gateway_health", "fleet"}
    fleet_fields = set(_fleet_figures(tmp_path))
    for name in _build_module().DASHBOARDS:
        for query in _queries(json.loads((DASHBOARDS / name).read_text())):
            measurement = re.search(r'FROM (?:"(?:raw|minute|hourly)"\.)?"([a-z_]+)"', query)
            assert measurement, query
            assert measurement[1] in written, (name, query)
            if measurement[1] == "fleet":
                fields = set(re.findall(r'(?:last|max|mean)\("([a-z_]+)"\)', query))
                assert fields, query
                assert fields <= fleet_fields, (name, fields - fleet_fields)


async def test_every_panel_query_runs_and_returns_data(
    influx: InfluxServer, tmp_path: Path
) -> None:
    settings = InfluxSettings(url=influx.url, database="silverguard")
    writer = InfluxWriter(settings)
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
                        "adverts_per_s": 12.5,
                        "rejected_replay": s,
                        "rejected_wrong_key": 0,
                        "rejected_unknown_device": 2,
                    },
                )
            )
        )
    # Two fleet processes' own figures, as they write them, growing.
    figures = _fleet_figures(tmp_path)
    for instance in ("fleet-aaaaaa", "fleet-bbbbbb"):
        for s in range(0, 60, 10):
            grown = {k: (v + s if type(v) is int else v) for k, v in figures.items()}
            writer.add(fleet_lines(instance, grown, now - 60 + s))
    await writer.flush()
    # The hourly tier, as its continuous queries will have filled it.
    await writer.backfill(
        datetime.fromtimestamp(now - 3600, UTC), datetime.fromtimestamp(now + 1, UTC)
    )
    async with httpx.AsyncClient() as client:
        for name in _build_module().DASHBOARDS:
            for query in _queries(json.loads((DASHBOARDS / name).read_text())):
                q = (
                    query.replace("$timeFilter", "time > now() - 2h")
                    .replace("$__interval", "10s")
                    .replace("$device", ".*")
                )
                response = await client.post(
                    f"{influx.url}/query", data={"q": q, "db": "silverguard"}
                )
                assert response.status_code == 200, (query, response.text)
                result = response.json()["results"][0]
                assert "error" not in result, (query, result)
                assert result.get("series"), f"{name}: no data for: {query}"
    await writer.aclose()
