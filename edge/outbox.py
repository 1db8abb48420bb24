"""The durable outbox: everything bound upstream is written here before it is sent.

SQLite in WAL mode with ``synchronous=FULL``: a row committed here survives
``kill -9`` and power loss. Telemetry rows leave after the broker's PUBACK; event
rows only when the fleet acknowledges it stored them (``event/ack``), because a
broker that crashes before its next autosave loses messages it already PUBACKed.

Bounded: above ``max_bytes`` or past ``max_age_s`` the oldest *telemetry* is thinned;
events are never dropped.
"""

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'telemetry')),
    event_id TEXT UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, seq);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: str
    event_id: str | None
    topic: str
    payload: bytes
    created: float


class Outbox:
    def __init__(
        self, path: Path, *, max_bytes: int = 64 << 20, max_telemetry_age_s: float = 7 * 86400
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.max_bytes = max_bytes
        self.max_telemetry_age_s = max_telemetry_age_s
        self.thinned = 0  # telemetry rows dropped under pressure, since start

    def close(self) -> None:
        self._db.close()

    def put_event(
        self, event_id: str, topic: str, payload: bytes, now: float | None = None
    ) -> bool:
        """Store an event; False if it is already here (a repeated copy)."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO outbox (kind, event_id, topic, payload, created) "
            "VALUES ('event', ?, ?, ?, ?)",
            (event_id, topic, payload, now if now is not None else time.time()),
        )
        return cur.rowcount == 1

    def put_telemetry(self, topic: str, payload: bytes, now: float | None = None) -> None:
        now = now if now is not None else time.time()
        self._db.execute(
            "INSERT INTO outbox (kind, topic, payload, created) VALUES ('telemetry', ?, ?, ?)",
            (topic, payload, now),
        )
        self._thin(now)

    def pending(self, kind: str, limit: int = 100, after_seq: int = 0) -> list[Entry]:
        rows = self._db.execute(
            "SELECT seq, kind, event_id, topic, payload, created FROM outbox "
            "WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?",
            (kind, after_seq, limit),
        ).fetchall()
        return [Entry(*row) for row in rows]

    def remove(self, seqs: Iterable[int]) -> None:
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def ack_events(self, event_ids: Iterable[str]) -> int:
        cur = self._db.executemany(
            "DELETE FROM outbox WHERE kind = 'event' AND event_id = ?", [(i,) for i in event_ids]
        )
        return cur.rowcount

    def depth(self) -> dict[str, int]:
        rows = self._db.execute("SELECT kind, COUNT(*) FROM outbox GROUP BY kind").fetchall()
        counts = {"event": 0, "telemetry": 0}
        counts.update(dict(rows))
        return counts

    def size_bytes(self) -> int:
        row = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        return int(row[0])

    def _thin(self, now: float) -> None:
        cur = self._db.execute(
            "DELETE FROM outbox WHERE kind = 'telemetry' AND created < ?",
            (now - self.max_telemetry_age_s,),
        )
        self.thinned += max(cur.rowcount, 0)
        excess = self.size_bytes() - self.max_bytes
        while excess > 0:
            rows = self._db.execute(
                "SELECT seq, LENGTH(payload) FROM outbox WHERE kind = 'telemetry' "
                "ORDER BY seq LIMIT 64"
            ).fetchall()
            if not rows:
                return  # only events left: they are never dropped
            drop = []
            for seq, size in rows:
                drop.append(seq)
                excess -= size
                if excess <= 0:
                    break
            self.remove(drop)
            self.thinned += len(drop)
