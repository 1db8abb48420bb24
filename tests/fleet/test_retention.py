"""Retention tiers and their continuous queries on a real InfluxDB; a write-only user."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from contract import Reading
from fleet.settings import InfluxSettings
from fleet.timeseries import history, retention
from fleet.timeseries.influx import InfluxWriter, telemetry_lines
from silverguard.servers.influxdb import InfluxServer
from tests.waiting import eventually


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


def _policies(result: dict) -> dict:  # type: ignore[type-arg]
    return {row[0]: row for row in result["series"][0]["values"]}


def _cq_names(result: dict, db: str = "silverguard") -> dict[str, str]:  # type: ignore[type-arg]
    return {
        row[0]: row[1] for s in result["series"] if s["name"] == db for row in s.get("values", [])
    }


async def test_three_tiers_are_made_once_and_follow_the_settings(influx: InfluxServer) -> None:
    settings = InfluxSettings(url=influx.url)
    writer = InfluxWriter(settings)
    await writer.ensure_database()
    await writer.ensure_database()  # at every start: idempotent
    policies = _policies(await _q(influx.url, "SHOW RETENTION POLICIES"))
    assert policies["raw"][1] == "720h0m0s"  # 30 days
    assert policies["raw"][-1] is True  # the default: what the fleet writes to
    assert policies["minute"][1] == "8760h0m0s"  # a year
    assert policies["hourly"][1] == "0s"  # for ever
    queries = _cq_names(await _q(influx.url, "SHOW CONTINUOUS QUERIES"))
    assert set(queries) == set(retention.summary_selects(settings))
    assert "FROM silverguard.raw.wristband" in queries["cq_wristband_minute"]
    assert "FROM silverguard.minute.wristband" in queries["cq_wristband_hourly"]
    assert "RESAMPLE FOR 5m" in queries["cq_wristband_minute"]
    await writer.aclose()

    changed = InfluxSettings(
        url=influx.url,
        raw_retention_days=7,
        minute_retention_days=90,
        hourly_retention_days=3650,
        minute_resample_min=15,
    )
    again = InfluxWriter(changed)
    await again.ensure_database()  # changed settings alter the policies and the queries
    policies = _policies(await _q(influx.url, "SHOW RETENTION POLICIES"))
    assert [policies[p][1] for p in ("raw", "minute", "hourly")] == [
        "168h0m0s",
        "2160h0m0s",
        "87600h0m0s",
    ]
    queries = _cq_names(await _q(influx.url, "SHOW CONTINUOUS QUERIES"))
    assert "FOR 15m" in queries["cq_wristband_minute"]
    assert len(queries) == len(retention.summary_selects(changed))
    await again.aclose()


async def test_an_older_release_s_summary_query_is_replaced(influx: InfluxServer) -> None:
    await _q(influx.url, 'CREATE DATABASE "silverguard"', db=None)
    await _q(
        influx.url, 'CREATE RETENTION POLICY "hourly" ON "silverguard" DURATION 730d REPLICATION 1'
    )
    # What the fleet made before the minute tier: hourly straight from raw, no resample.
    await _q(
        influx.url,
        'CREATE CONTINUOUS QUERY "cq_wristband_hourly" ON "silverguard" BEGIN '
        'SELECT last("battery") AS "battery" INTO "silverguard"."hourly"."wristband" '
        'FROM "silverguard"."autogen"."wristband" GROUP BY time(1h), * END',
    )
    writer = InfluxWriter(InfluxSettings(url=influx.url))
    await writer.ensure_database()
    queries = _cq_names(await _q(influx.url, "SHOW CONTINUOUS QUERIES"))
    assert "FROM silverguard.minute.wristband" in queries["cq_wristband_hourly"]
    assert _policies(await _q(influx.url, "SHOW RETENTION POLICIES"))["hourly"][1] == "0s"
    await writer.aclose()


def _band_hour(hour: int) -> list[Reading]:
    """An hour of one band, a reading a minute: battery 90 then 89, steps 0..59."""
    return [
        Reading(
            device="C2:00:00:00:00:01",
            ts=hour + m * 60 + 5,
            rssi=-60 - m % 2 * 10,
            fields={"battery": 90 - m // 30, "steps": m, "peak_g": 1.0 + m / 100},
        )
        for m in range(60)
    ]


async def test_the_continuous_queries_fold_real_telemetry_into_minutes_and_hours(
    influx: InfluxServer,
) -> None:
    settings = InfluxSettings(url=influx.url)
    writer = InfluxWriter(settings)
    await writer.ensure_database()
    hour = (int(time.time()) // 3600 - 2) * 3600  # two hours ago, a whole hour
    writer.add(telemetry_lines("gw-01", _band_hour(hour)))
    await writer.flush()
    # What the continuous queries do when their intervals close, run now for that hour
    # (InfluxDB 1.6 cannot run a continuous query on demand).
    await writer.backfill(
        datetime.fromtimestamp(hour + 600, UTC), datetime.fromtimestamp(hour + 3600, UTC)
    )
    minutes = await _q(influx.url, 'SELECT battery, steps, rssi FROM "minute"."wristband"')
    rows = minutes["series"][0]["values"]
    assert len(rows) == 60  # one per minute, whole hour though the span began at :10
    assert rows[0][1:] == [90, 0, -60]
    assert rows[-1][1:] == [89, 59, -70]
    hourly = await _q(
        influx.url, 'SELECT battery, steps, peak_g, rssi FROM "hourly"."wristband" GROUP BY *'
    )
    (series,) = hourly["series"]
    assert series["tags"] == {"device": "C2:00:00:00:00:01", "gateway": "gw-01"}
    (row,) = series["values"]
    assert row[1:] == [89, 59, pytest.approx(1.59), pytest.approx(-65.0)]
    await writer.aclose()


async def test_influxdb_runs_the_minute_query_by_itself(influx: InfluxServer) -> None:
    """The continuous query as InfluxDB runs it, at the next minute boundary."""
    writer = InfluxWriter(InfluxSettings(url=influx.url))
    await writer.ensure_database()
    now = time.time()
    writer.add(
        telemetry_lines(
            "gw-01",
            [
                Reading(device="C2:00:00:00:00:02", ts=now - 70, fields={"battery": 55}),
                Reading(device="C2:00:00:00:00:02", ts=now - 1, fields={"battery": 54}),
            ],
        )
    )
    await writer.flush()

    async def folded() -> list:  # type: ignore[type-arg]
        result = await _q(influx.url, 'SELECT battery FROM "minute"."wristband"')
        return [row[1] for row in result.get("series", [{}])[0].get("values", [])]

    assert (await eventually(folded, timeout=90, what="the minute aggregate"))[0] == 55
    await writer.aclose()


async def test_a_write_only_user_writes_without_managing_the_database(tmp_path: Path) -> None:
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


def test_a_chart_reads_the_tier_that_fits_its_span() -> None:
    settings = InfluxSettings()  # raw 30 d, minute 365 d, hourly for ever
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)

    def tier(since_ago: timedelta, span: timedelta) -> tuple[str, timedelta]:
        return history.tier_for(now - since_ago, now - since_ago + span, now, settings)

    assert tier(timedelta(hours=3), timedelta(hours=3)) == ("", timedelta(seconds=36))
    assert tier(timedelta(days=3), timedelta(days=3)) == ("minute", timedelta(minutes=15))
    assert tier(timedelta(days=90), timedelta(days=90)) == ("hourly", timedelta(hours=8))
    # A short span from before the raw points were let go: the minute aggregates.
    assert tier(timedelta(days=40), timedelta(hours=1))[0] == "minute"
    # Older than a year: the hourly ones, whatever the span.
    assert tier(timedelta(days=400), timedelta(hours=1)) == ("hourly", timedelta(hours=1))


async def test_long_spans_read_the_aggregates_short_ones_the_raw_points(
    influx: InfluxServer,
) -> None:
    settings = InfluxSettings(url=influx.url)
    writer = InfluxWriter(settings)
    await writer.ensure_database()
    hour = (int(time.time()) // 3600 - 3) * 3600
    writer.add(telemetry_lines("gw-01", _band_hour(hour)))
    await writer.flush()
    await writer.backfill(
        datetime.fromtimestamp(hour, UTC), datetime.fromtimestamp(hour + 3600, UTC)
    )
    # Late raw points, not folded yet: only a reader of the raw tier sees them.
    late = Reading(device="C2:00:00:00:00:01", ts=hour + 3599, fields={"steps": 1000})
    writer.add(telemetry_lines("gw-01", [late]))
    await writer.flush()
    now = datetime.fromtimestamp(hour + 4 * 3600, UTC)
    band = "C2:00:00:00:00:01"

    short = await history.activity(
        writer, band, since=now - timedelta(hours=5), until=now, now=now, settings=settings
    )
    assert len(short) == 60
    assert short[-1][1] == 1000  # the raw tier
    week = await history.activity(
        writer, band, since=now - timedelta(days=7), until=now, now=now, settings=settings
    )
    # 34-minute buckets of the minute tier: the late raw point is not in them.
    assert 2 <= len(week) <= 3
    assert week[-1][1] == 59
    year = await history.activity(
        writer, band, since=now - timedelta(days=365), until=now, now=now, settings=settings
    )
    assert [v for _, v in year] == [59]  # a 30-hour bucket of the hourly tier

    # A week of battery for the console: the hourly tier, and the latest level raw.
    series, latest = await history.battery(writer, now)
    assert [s.level for s in series[band]] == [89]
    assert latest[band].level == 89
    await writer.aclose()


async def test_the_backfill_command_folds_late_telemetry(
    influx: InfluxServer, tmp_path: Path
) -> None:
    writer = InfluxWriter(InfluxSettings(url=influx.url))
    await writer.ensure_database()
    late = Reading(device="C2:00:00:00:00:03", ts=time.time() - 3 * 3600, fields={"battery": 42})
    writer.add(telemetry_lines("gw-01", [late]))
    await writer.flush()
    await writer.aclose()
    env = {
        **os.environ,
        "SG_FLEET_INFLUX__URL": influx.url,
        "SG_FLEET_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "silverguard.cli", "fleet", "backfill-aggregates", "--hours", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    minute = await _q(influx.url, 'SELECT battery FROM "minute"."wristband"')
    hourly = await _q(influx.url, 'SELECT battery FROM "hourly"."wristband"')
    assert [row[1] for row in minute["series"][0]["values"]] == [42]
    assert [row[1] for row in hourly["series"][0]["values"]] == [42]
