"""The telemetry spill (fleet/timeseries/spill.py) on its own, and with the writer
against a real InfluxDB that goes away and comes back."""

import stat
import time
from pathlib import Path

import httpx
import pytest

from fleet.settings import InfluxSettings
from fleet.timeseries.influx import InfluxWriter
from fleet.timeseries.spill import Spill
from silverguard.servers.influxdb import InfluxServer

LINE = "wristband,device=C2:00:00:00:00:01,gateway=gw-01 steps={i}i {ts}"
# A day ago (milliseconds, the writer's precision): inside any retention the fleet sets.
_BASE_MS = (int(time.time()) - 86400) * 1000


def lines(start: int, n: int) -> list[str]:
    return [LINE.format(i=i, ts=_BASE_MS + i) for i in range(start, start + n)]


def test_lines_survive_reopening_and_leave_in_order(tmp_path: Path):
    path = tmp_path / "spill.db"
    spill = Spill(path, max_bytes=10_000_000)
    spill.put(lines(0, 3))
    spill.put(lines(3, 2))
    spill.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Spill(path, max_bytes=10_000_000)
    assert again.lines == 5
    seqs, first = again.peek(3)
    assert first == lines(0, 3)
    again.remove(seqs)
    assert again.lines == 2
    assert again.peek(100)[1] == lines(3, 2)


def test_the_oldest_lines_go_when_the_spill_is_full(tmp_path: Path):
    one = len("\n".join(lines(0, 10)).encode())
    spill = Spill(tmp_path / "spill.db", max_bytes=int(one * 2.5))
    for start in range(0, 50, 10):
        spill.put(lines(start, 10))
    assert spill.lines == 20
    assert spill.dropped == 30
    assert spill.peek(100)[1] == lines(30, 20)


@pytest.fixture
def influx(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = InfluxServer(tmp_path / "influx").start()
    yield server
    server.stop()


async def count(writer: InfluxWriter) -> int:
    result = await writer.query("SELECT count(steps) FROM wristband")
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def test_the_writer_spills_while_influxdb_is_away_and_a_new_writer_writes_it_back(
    tmp_path: Path, influx: InfluxServer
):
    settings = InfluxSettings(url=influx.url, database="t", batch_lines=100)
    writer = InfluxWriter(settings, spill=Spill(tmp_path / "spill.db", max_bytes=10**8))
    await writer.ensure_database()
    writer.add(lines(0, 10))  # not known reachable yet: straight to disk
    assert writer.spilled == 10
    await writer.flush()
    writer.reachable = True
    assert await count(writer) == 10
    influx.stop()
    writer.add(lines(10, 250))  # held in memory: InfluxDB looked fine a moment ago
    with pytest.raises(httpx.HTTPError):
        await writer.flush()
    assert writer.spilled == 250  # the failed write moved them to disk
    await writer.aclose()  # the process ends here, InfluxDB still away

    influx.start()
    after = InfluxWriter(settings, spill=Spill(tmp_path / "spill.db", max_bytes=10**8))
    assert after.spilled == 250
    await after.flush()
    assert after.spilled == 0
    assert await count(after) == 260
    await after.aclose()


async def test_lines_are_reported_stored_only_once_out_of_memory(
    tmp_path: Path, influx: InfluxServer
) -> None:
    """What the ingest acknowledges to the broker on: written, or on disk."""
    settings = InfluxSettings(url=influx.url, database="t", batch_lines=100)
    writer = InfluxWriter(settings, spill=Spill(tmp_path / "spill.db", max_bytes=10**8))
    await writer.ensure_database()
    writer.reachable = True
    stored: list[str] = []
    writer.add(lines(0, 150), stored=lambda: stored.append("a"))
    writer.add(lines(150, 10), stored=lambda: stored.append("b"))
    assert stored == []  # in memory only: a SIGKILL now would lose them
    await writer.flush()
    assert stored == ["a", "b"]
    assert await count(writer) == 160

    influx.stop()
    writer.add(lines(160, 10), stored=lambda: stored.append("c"))
    assert stored == ["a", "b"]
    with pytest.raises(httpx.HTTPError):
        await writer.flush()
    assert stored == ["a", "b", "c"]  # spilled to disk by the failed write
    writer.reachable = False
    writer.add(lines(170, 10), stored=lambda: stored.append("d"))
    assert stored[-1] == "d"  # InfluxDB away: straight to disk
    await writer.aclose()
