"""Risk tags for a district: how long the fleet takes to evaluate the day's tags of every
resident (fleet.risk.daily.evaluate_day: gather the facts from the registry, evaluate
the table, keep the spans), on a migrated SQLite registry.

``residents`` residents, each with a band, a flat and a meter, a birth year and
conditions; ``events`` events per resident spread over the last 30 days (falls, SOS,
missed doses, no-water mornings, not worn, low battery); some outside reports. The
first evaluation of the day starts every span; the second is a re-run (what the
fleet's hourly run does the rest of the day).

    python -m silverguard.bench.risk_daily --residents 867
"""

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from fleet import clock
from fleet.db.models import (
    Community,
    EventRecord,
    Resident,
    RiskReport,
    RiskTagRow,
    Town,
    Wristband,
)
from fleet.db.session import make_engine, make_sessionmaker, migrate
from fleet.risk import daily
from silverguard.bench import emit

_KINDS = ("fall", "sos", "missed_dose", "no_water", "not_worn", "low_battery", "fall_cancelled")


def _seed(url: str, residents: int, events: int, now: datetime, rng: random.Random) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(Town(id="t-1", name="t", created_at=now))
        session.flush()
        session.add(Community(id="c-1", town_id="t-1", name="c", created_at=now))
        session.flush()
        session.execute(
            insert(Resident),
            [
                {
                    "id": f"r-{i:06d}",
                    "display_name": f"r{i}",
                    "address": "",
                    "community_id": "c-1",
                    "lives_alone": i % 3 == 0,
                    "health_notes": "",
                    "flat": f"f-{i:06d}",
                    "settings": {},
                    "birth_year": rng.randint(1930, 1960),
                    "conditions": rng.sample(["高血压", "糖尿病", "认知障碍", "冠心病"], k=i % 3),
                    "created_at": now,
                }
                for i in range(residents)
            ],
        )
        session.execute(
            insert(Wristband),
            [
                {
                    "mac": f"C2:00:00:{i // 65536:02X}:{i // 256 % 256:02X}:{i % 256:02X}",
                    "resident_id": f"r-{i:06d}",
                    "community_id": "c-1",
                    "bind_key": "x",
                    "state": "active",
                    "created_at": now,
                }
                for i in range(residents)
            ],
        )
        rows = []
        for i in range(residents):
            mac = f"C2:00:00:{i // 65536:02X}:{i // 256 % 256:02X}:{i % 256:02X}"
            for n in range(events):
                at = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
                rows.append(
                    {
                        "id": f"{i:08d}-{n:04d}-0000-0000-000000000000",
                        "kind": rng.choice(_KINDS),
                        "severity": "high",
                        "device": mac,
                        "gateway": "gw-1",
                        "occurred_at": at,
                        "detected_at": at,
                        "received_at": at,
                        "evidence": {},
                        "notified_locally": False,
                    }
                )
        session.execute(insert(EventRecord), rows)
        session.execute(
            insert(RiskReport),
            [
                {
                    "resident_id": f"r-{i:06d}",
                    "source": "hotline",
                    "reported_at": now - timedelta(days=rng.uniform(0, 30)),
                    "concern": "x",
                    "imported_at": now,
                    "imported_by": "bench",
                }
                for i in range(0, residents, 20)
            ],
        )
    engine.dispose()


def run(*, residents: int = 867, events: int = 20) -> dict[str, Any]:
    rng = random.Random(15)
    now = datetime.now(UTC)
    day = now.astimezone(clock.zone()).date()
    with tempfile.TemporaryDirectory(prefix="sg-risk-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'registry.db'}"
        migrate(url)
        _seed(url, residents, events, now, rng)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        timings = []
        results = []
        for _ in range(2):
            started = time.perf_counter()
            with sessions.begin() as session:
                results.append(daily.evaluate_day(session, day))
            timings.append(time.perf_counter() - started)
        with sessions() as session:
            spans = session.query(RiskTagRow).count()
        engine.dispose()
    first, again = results
    return {
        "residents": residents,
        "events": residents * events,
        "tags_holding": first.tags,
        "spans": spans,
        "first_run_s": round(timings[0], 2),
        "rerun_s": round(timings[1], 2),
        "per_resident_ms": round(timings[1] / residents * 1000, 2),
        "rerun_started": again.started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--residents", type=int, default=867)
    parser.add_argument("--events", type=int, default=20, help="events per resident in 30 days")
    parser.add_argument("--out", type=Path, help="where to save the JSON (default bench-results/)")
    args = parser.parse_args()
    emit("risk-daily", run(residents=args.residents, events=args.events), args.out)


if __name__ == "__main__":
    main()
