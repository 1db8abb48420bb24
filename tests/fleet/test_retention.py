"""Retention policies and hourly summaries on a real InfluxDB; a write-only user."""

import time
from pathlib import Path

import httpx
import pytest

from contract import Reading
from fleet.settings import InfluxSettings
from fleet.timeseries import retention
from fleet.timeseries.influx import InfluxWriter, telemetry_lines
from silverguard.servers.influxdb import InfluxServer


async def _q(
    url: str, q: str, db: str | None = "silverguard", auth: tuple[str, str] | None = None
) -> dict:  # type: ignore[type-arg]
    data = {"q": q, **({"db": db} if db else {})}
    async with httpx.AsyncClient(auth=auth) as client:
        response = await client.post(f"{url}/query", data=data)
        response.raise_for_status()
        result: dict = response.json()["results"][0]  # type: ignore[type-arg]
        return result


@pytest.fixture
def influx(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = InfluxServer(tmp_path / "influx").start()
    yield server
    server.stop()


async def test_policies_and_summaries_are_made_once_and_follow_the_settings(influx: InfluxServer):
    settings = InfluxSettings(url=influx.url, raw_retention_days=90, hourly_retention_days=730)
    writer = InfluxWriter(settings)
    await writer.ensure_database()
    await writer.ensure_database()  # at every start: idempotent
    policies = {
        row[0]: row
        for row in (await _q(influx.url, "SHOW RETENTION POLICIES"))["series"][0]["values"]
    }
    assert policies["raw"][1] == "2160h0m0s"
    assert policies["raw"][-1] is True  # the default: what the fleet writes to
    assert policies["hourly"][1] == "17520h0m0s"
    queries = await _q(influx.url, "SHOW CONTINUOUS QUERIES")
    names = {
        row[0]
        for s in queries["series"]
        if s["name"] == "silverguard"
        for row in s.get("values", [])
    }
    assert names == set(retention.summary_selects(settings))
    await writer.aclose()

    shorter = InfluxWriter(InfluxSettings(url=influx.url, raw_retention_days=30))
    await shorter.ensure_database()  # a changed setting alters the policy
    policies = {
        row[0]: row
        for row in (await _q(influx.url, "SHOW RETENTION POLICIES"))["series"][0]["values"]
    }
    assert policies["raw"][1] == "720h0m0s"
    await shorter.aclose()


async def test_the_summary_queries_fold_real_telemetry_into_hours(influx: InfluxServer):
    settings = InfluxSettings(url=influx.url)
    writer = InfluxWriter(settings)
    await writer.ensure_database()
    hour = (int(time.time()) // 3600 - 2) * 3600  # two hours ago, a whole hour
    writer.add(
        telemetry_lines(
            "gw-01",
            [
                Reading(
                    device="C2:00:00:00:00:01",
                    ts=hour + m * 60,
                    rssi=-60,
                    fields={"battery": 90 - m // 30, "steps": m, "peak_g": 1.0 + m / 100},
                )
                for m in range(60)
            ],
        )
    )
    await writer.flush()
    # What each continuous query does at the top of the hour, run now for that hour.
    for select in retention.summary_selects(settings).values():
        bounded = select.replace(
            " GROUP BY", f" WHERE time >= {hour}s AND time < {hour + 3600}s GROUP BY"
        )
        assert "error" not in await _q(influx.url, bounded)
    summary = await _q(influx.url, 'SELECT battery, steps, peak_g FROM "hourly"."wristband"')
    (row,) = summary["series"][0]["values"]
    assert row[1:] == [89, 59, pytest.approx(1.59)]
    await writer.aclose()


async def test_a_write_only_user_writes_without_managing_the_database(tmp_path: Path):
    server = InfluxServer(tmp_path / "influx", auth=True).start()
    try:
        admin = ("admin", "admin-pw")
        # The first user, made before any exists, must be an admin (and names no database).
        await _q(
            server.url, "CREATE USER admin WITH PASSWORD 'admin-pw' WITH ALL PRIVILEGES", db=None
        )
        await _q(server.url, 'CREATE DATABASE "silverguard"', auth=admin)
        await _q(server.url, "CREATE USER writer WITH PASSWORD 'writer-pw'", auth=admin)
        await _q(server.url, 'GRANT WRITE ON "silverguard" TO writer', auth=admin)
        writer = InfluxWriter(
            InfluxSettings(url=server.url, username="writer", password="writer-pw")
        )
        await writer.ensure_database()  # refused (403): said once, not fatal
        writer.add(
            telemetry_lines(
                "gw-01",
                [
                    Reading(
                        device="C2:00:00:00:00:01", ts=time.time(), rssi=-60, fields={"battery": 77}
                    )
                ],
            )
        )
        await writer.flush()
        result = await _q(server.url, "SELECT last(battery) FROM wristband", auth=admin)
        assert result["series"][0]["values"][0][1] == 77
        await writer.aclose()
    finally:
        server.stop()
