"""How long the console's lists and resident page take at the district's size, against
a real fleet process (SQLite, Mosquitto, InfluxDB on this machine). Not a test: run
``.venv/bin/python -m tests.console.measure_lists`` and read the figures it prints."""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from contract import EventKind, Severity
from fleet.db.models import Resident
from fleet.db.session import make_engine, make_sessionmaker, utcnow
from tests.console.world import COMMUNITY, RESIDENTS, ConsoleWorld, band_mac

DISTRICT = 867
RUNS = 20


def timed(world: ConsoleWorld, path: str) -> tuple[float, float, int]:
    """Median and worst milliseconds of RUNS requests, and the answer's size."""
    took = []
    size = 0
    for _ in range(RUNS):
        start = time.perf_counter()
        response = world.admin.get(path)
        took.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
        size = len(response.content)
    return statistics.median(took), max(took), size


def main() -> None:
    world = ConsoleWorld.start(Path(tempfile.mkdtemp(prefix="sg-measure-")))
    try:
        engine = make_engine(f"sqlite:///{world.workdir / 'fleet' / 'registry.db'}")
        with make_sessionmaker(engine).begin() as session:
            for i in range(DISTRICT - len(RESIDENTS)):
                session.add(
                    Resident(
                        id=f"r-d{i:04d}",
                        display_name=f"居民{i:04d}",
                        address=f"幸福社区{i % 40 + 1}号楼",
                        community_id=COMMUNITY,
                        settings={},
                        created_at=utcnow(),
                    )
                )
        engine.dispose()
        now = time.time()
        world.write_battery(
            {band_mac(1): [(now - 3600 * h, 60 + h // 4) for h in range(720, 0, -1)]}
        )
        # 90 days of a band reporting every 15 minutes: a growing step count, moving.
        quarter_hours = 90 * 24 * 4
        world.write_lines(
            [
                f"wristband,device={band_mac(1)},gateway=gw-01 "
                f"steps={(quarter_hours - k) * 10}i,moving=true {int(now - k * 900)}"
                for k in range(quarter_hours)
            ]
        )
        for key in range(1, 6):
            world.raise_event(1 + key % 6, EventKind.SOS, key, Severity.CRITICAL)
        world.wait_alert("r-6")
        print(f"{'request':58} {'median ms':>9} {'worst ms':>9} {'bytes':>9}")
        for path in (
            "/api/v1/residents?limit=50&sort=name",
            "/api/v1/residents?limit=50&offset=800&sort=-name",
            "/api/v1/residents?limit=50&q=居民08",
            "/api/v1/residents?format=csv",
            "/api/v1/residents?limit=1000",
            "/api/v1/alerts?limit=50&state=open&state=notified",
            "/api/v1/residents/r-1/overview",
            "/api/v1/residents/r-1/charts?days=30",
            "/api/v1/residents/r-1/charts?days=90",
            "/api/v1/charts/alerts?days=30",
        ):
            median, worst, size = timed(world, path)
            print(f"{path:58} {median:9.1f} {worst:9.1f} {size:9}")
    finally:
        world.stop()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
