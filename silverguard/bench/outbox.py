"""``silverguard bench outbox``: how fast the gateway's outbox takes events and acks.

- ``put_event_per_s`` / ``put_event_ms``: events committed one by one (WAL +
  ``synchronous=FULL``: one fsync each), as the pipeline stores them.
- ``ack_events_per_s``: events removed on the fleet's acknowledgements, 50 per ack.
- ``put_telemetry_per_s``: 3 kB telemetry batches, with the size bound checked.

Run it with ``--dir`` on the gateway's own storage (the SD card) for figures that mean
something there.
"""

import tempfile
import time
from pathlib import Path
from typing import Any

from edge.outbox import Outbox

_EVENT = b"x" * 400  # about the size of an encoded SOS event
_BATCH = b"y" * 3000  # a telemetry batch of a few dozen bands


def run(*, events: int = 500, directory: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        box = Outbox(Path(tmp) / "bench-outbox.db")
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
        "ack_events_per_s": round(events / ack),
        "put_telemetry_per_s": round(events / telemetry),
    }
