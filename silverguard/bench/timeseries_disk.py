"""Bytes on disk per point in each retention tier of a private InfluxDB 1.x.

``bands`` wristbands report every 10 s for ``hours`` hours (the fields a gateway sends,
values varying as a band's do), written through the fleet's writer; the continuous
queries' backfill fills the minute and hourly tiers; InfluxDB is then left to snapshot
its cache to TSM files and compact them (cold durations shortened to seconds for the
measurement), and each tier's directory is measured.

    python -m silverguard.bench.timeseries_disk --bands 500 --hours 1
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

from contract import Reading
from fleet.settings import InfluxSettings
from fleet.timeseries.influx import InfluxWriter, telemetry_lines
from silverguard.bench import emit
from silverguard.servers.influxdb import InfluxServer

_EVERY_S = 10
_SETTLE_S = 20.0  # the cache's cold snapshot (2 s) and a full compaction (4 s), with margin


class _QuickToDisk(InfluxServer):
    """The private server, told to write its cache to TSM files within seconds."""

    def _write_config(self) -> None:
        super()._write_config()
        text = self.conf_file.read_text().replace(
            'index-version = "inmem"',
            'index-version = "inmem"\n'
            '  cache-snapshot-write-cold-duration = "2s"\n'
            '  compact-full-write-cold-duration = "4s"',
        )
        self.conf_file.write_text(text)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def _fill(url: str, bands: int, hours: float, start: float) -> None:
    writer = InfluxWriter(InfluxSettings(url=url), httpx.AsyncClient(timeout=600))
    await writer.ensure_database()
    rng = random.Random(867)
    steps = int(hours * 3600 / _EVERY_S)
    for k in range(steps):
        readings = [
            Reading(
                device=f"C3:00:00:00:{i >> 8:02X}:{i & 0xFF:02X}",
                ts=start + k * _EVERY_S + i * 0.001,
                rssi=-60 - rng.randrange(20),
                fields={
                    "battery": 80 - k // 360,
                    "steps": k * 3 + i,
                    "worn": True,
                    "moving": rng.random() < 0.3,
                    "tilt_deg": round(rng.uniform(-40, 40), 1),
                    "roll_deg": round(rng.uniform(-40, 40), 1),
                    "peak_g": round(rng.uniform(0.9, 1.3), 3),
                },
            )
            for i in range(bands)
        ]
        writer.add(telemetry_lines("gw-01", readings))
        if k % 10 == 9:
            await writer.flush()
    await writer.flush()
    await writer.backfill(
        datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + hours * 3600, UTC)
    )
    await writer.aclose()
    await asyncio.sleep(_SETTLE_S)


def run(*, bands: int = 500, hours: float = 1.0) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sg-bench-tsdisk-"))
    server = _QuickToDisk(workdir / "influxdb").start()
    start = (int(time.time()) // 3600 - int(hours) - 2) * 3600
    try:
        asyncio.run(_fill(server.url, bands, hours, start))
    finally:
        server.stop()
    try:
        data = workdir / "influxdb" / "data" / "silverguard"
        raw_points = bands * int(hours * 3600 / _EVERY_S)
        minute_points = bands * int(hours * 60)
        sizes = {tier: _size(data / tier) for tier in ("raw", "minute", "hourly")}
        return {
            "bands": bands,
            "hours": hours,
            "raw_points": raw_points,
            "raw_bytes": sizes["raw"],
            "raw_bytes_per_point": round(sizes["raw"] / raw_points, 1),
            "minute_points": minute_points,
            "minute_bytes": sizes["minute"],
            "minute_bytes_per_point": round(sizes["minute"] / minute_points, 1),
            "hourly_bytes": sizes["hourly"],
            "wal_bytes_left": _size(workdir / "influxdb" / "wal"),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bands", type=int, default=500)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    emit("timeseries-disk", run(bands=args.bands, hours=args.hours), args.out)


if __name__ == "__main__":
    main()
