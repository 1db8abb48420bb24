"""Battery figures for a district: how long the fleet takes to read a week of battery
history from InfluxDB and compute every band's slope, days left and abnormal drain.

A private InfluxDB 1.x gets ``bands`` wristbands' readings, one every ``every_min``
minutes for ``days`` days (the fleet stores one per telemetry batch), folded into the
minute and hourly tiers as the continuous queries would have (the query reads the hourly
tier and keeps 3-hour means), then the fleet's own code runs: ``fleet.timeseries.history.battery``
(two InfluxQL queries and their parsing) and ``fleet.battery.assess``. This is what
``GET /api/v1/battery`` does once per ``battery_cache_s``.

    python -m silverguard.bench.battery --bands 867
"""

import argparse
import asyncio
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from fleet.battery import assess
from fleet.settings import InfluxSettings
from fleet.timeseries import history
from fleet.timeseries.influx import InfluxWriter
from silverguard.bench import emit
from silverguard.servers.influxdb import InfluxServer

_DB = "bench"


def _lines(bands: int, days: float, every_min: float, now: float, rng: random.Random) -> list[str]:
    lines = []
    steps = int(days * 24 * 60 / every_min)
    for i in range(bands):
        mac = f"C2:00:00:00:{i // 256:02X}:{i % 256:02X}"
        per_day = rng.uniform(1.0, 3.0) if i % 50 else rng.uniform(8.0, 12.0)
        start = rng.uniform(60, 100) + per_day * days
        for step in range(steps + 1):
            ago_min = (steps - step) * every_min
            level = max(0, round(start - per_day * step * every_min / 1440))
            lines.append(
                f"wristband,device={mac},gateway=gw-01 battery={level}i {int(now - ago_min * 60)}"
            )
    return lines


def run(*, bands: int = 867, days: float = 7.0, every_min: float = 10.0) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sg-bench-battery-"))
    server = InfluxServer(workdir / "influxdb").start()
    try:
        settings = InfluxSettings(url=server.url, database=_DB)

        async def prepare() -> None:
            writer = InfluxWriter(settings)
            await writer.ensure_database()  # the tiers, raw the default
            await writer.aclose()

        asyncio.run(prepare())
        now = time.time()
        lines = _lines(bands, days, every_min, now, random.Random(867))
        for chunk in range(0, len(lines), 5000):
            response = httpx.post(
                f"{server.url}/write",
                params={"db": _DB, "precision": "s"},
                content="\n".join(lines[chunk : chunk + 5000]).encode(),
                timeout=60,
            )
            response.raise_for_status()

        async def measure() -> dict[str, Any]:
            writer = InfluxWriter(settings)
            try:
                # What the continuous queries did over those days, at once.
                t0 = time.perf_counter()
                await writer.backfill(
                    datetime.fromtimestamp(now - days * 86400, UTC),
                    datetime.fromtimestamp(now + 1, UTC),
                )
                fold_s = time.perf_counter() - t0
                at = datetime.fromtimestamp(now, UTC)
                runs = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    series, latest = await history.battery(writer, at)
                    t1 = time.perf_counter()
                    report = assess(series, latest, at)
                    t2 = time.perf_counter()
                    runs.append((t1 - t0, t2 - t1))
                points = sum(len(s) for s in series.values())
                return {
                    "bands": bands,
                    "readings_stored": len(lines),
                    "points_read": points,
                    "abnormal": sum(b.abnormal for b in report.bands.values()),
                    "fold_into_tiers_s": round(fold_s, 2),
                    "query_and_parse_s": round(min(r[0] for r in runs), 3),
                    "assess_s": round(min(r[1] for r in runs), 4),
                }
            finally:
                await writer.aclose()

        return asyncio.run(measure())
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bands", type=int, default=867)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--every-min", type=float, default=10.0, help="minutes between readings")
    parser.add_argument("--out", type=Path, help="where to save the JSON (default bench-results/)")
    args = parser.parse_args()
    emit("battery", run(bands=args.bands, days=args.days, every_min=args.every_min), args.out)


if __name__ == "__main__":
    main()
