"""How fast the gateway's outbox takes events and acknowledgements on this disk.

    python -m silverguard.bench.outbox [--events N] [--dir D]

Run it on the gateway's own storage (``--dir`` on the SD card) for figures that mean
something there: every event costs one fsync (WAL + synchronous=FULL).
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from edge.outbox import Outbox

_EVENT = b"x" * 400  # about the size of an encoded SOS event
_BATCH = b"y" * 3000  # a telemetry batch of a few dozen bands


def measure(directory: Path, events: int) -> dict[str, float]:
    box = Outbox(directory / "bench-outbox.db")
    try:
        started = time.perf_counter()
        for i in range(events):
            box.put_event(f"ev-{i}", "sg/v1/gw/gw-bench/event", _EVENT)
        put = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(0, events, 50):
            box.ack_events([f"ev-{j}" for j in range(i, min(i + 50, events))])
        ack = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(events):
            box.put_telemetry("sg/v1/gw/gw-bench/telemetry", _BATCH)
        telemetry = time.perf_counter() - started
    finally:
        box.close()
    return {
        "events": events,
        "put_event_per_s": round(events / put),
        "put_event_ms": round(1000 * put / events, 2),
        "ack_events_per_s_batches_of_50": round(events / ack),
        "put_telemetry_3kB_per_s": round(events / telemetry),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--dir", type=Path, help="where to put the database (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        figures = measure(Path(tmp), args.events)
    for name, value in figures.items():
        print(f"{name}: {value}")
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "outbox.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
