"""The durable outbox: everything bound upstream is written here before it is sent.

SQLite in WAL mode with ``synchronous=FULL``: a row committed here survives
``kill -9`` and power loss (WAL + FULL fsyncs the log on every commit). Telemetry
rows leave after the broker's PUBACK; event rows only when the fleet acknowledges it
stored them (``event/ack``), because a broker that crashes before its next autosave
loses messages it already PUBACKed.

Bounded: above ``max_bytes`` or past ``max_telemetry_age_s`` the oldest *telemetry*
is thinned; events are never dropped. The byte total is kept as a running figure
(loaded once with SUM() at open, then adjusted by every insert and delete) so that a
put does not scan the table. A full disk (SQLITE_FULL) thins telemetry and retries;
if an event still cannot be stored, ``OutboxFull`` tells the caller to keep it in
memory and try again.
"""

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
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
CREATE INDEX IF NOT EXISTS outbox_kind_created ON outbox (kind, created);
-- Figures that must outlive a restart (e.g. how much telemetry was ever thinned).
CREATE TABLE IF NOT EXISTS outbox_counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

KINDS = ("event", "telemetry")

# SQLite's extended result code for "database or disk is full".
_SQLITE_FULL = 13


# The outbox database in the gateway's data directory.
OUTBOX_FILE = "outbox.db"


class OutboxFull(RuntimeError):
    """The disk is full even after dropping all telemetry; the event was not stored."""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: str
    event_id: str | None
    topic: str
    payload: bytes
    created: float


@dataclass(frozen=True, slots=True)
class KindBacklog:
    """What waits in the outbox for one kind of message."""

    count: int
    bytes: int
    oldest: float | None  # creation time (Unix s) of the oldest row, None if empty

    def oldest_age_s(self, now: float) -> float | None:
        return None if self.oldest is None else max(0.0, now - self.oldest)


def _is_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == _SQLITE_FULL) or "disk is full" in str(exc)


def _backlog(db: sqlite3.Connection) -> dict[str, KindBacklog]:
    rows = db.execute(
        "SELECT kind, COUNT(*), COALESCE(SUM(LENGTH(payload)), 0), MIN(created) "
        "FROM outbox GROUP BY kind"
    ).fetchall()
    found = {kind: KindBacklog(count, size, oldest) for kind, count, size, oldest in rows}
    return {kind: found.get(kind, KindBacklog(0, 0, None)) for kind in KINDS}


def read_backlog(path: Path) -> tuple[dict[str, KindBacklog], int]:
    """Backlog and thinned total of an outbox file, read-only (for the status command).

    Works while the gateway runs (WAL lets a reader in beside the writer) and while it
    does not; raises ``sqlite3.Error`` if the file is missing or unreadable.
    """
    if not path.exists():
        raise sqlite3.OperationalError(f"no outbox at {path}")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        backlog = _backlog(db)
        row = db.execute("SELECT value FROM outbox_counters WHERE name = 'thinned'").fetchone()
        return backlog, int(row[0]) if row else 0
    finally:
        db.close()


class Outbox:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 64 << 20,
        max_telemetry_age_s: float = 7 * 86400,
        max_file_bytes: int | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        if max_file_bytes is not None:
            # A hard ceiling on the file (SQLite answers SQLITE_FULL past it), for a data
            # partition shared with other things: behaves exactly like a full disk.
            page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
            self._db.execute(f"PRAGMA max_page_count = {max(1, max_file_bytes // page_size)}")
        self.max_bytes = max_bytes
        self.max_telemetry_age_s = max_telemetry_age_s
        row = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        self._bytes = int(row[0])
        row = self._db.execute(
            "SELECT value FROM outbox_counters WHERE name = 'thinned'"
        ).fetchone()
        self.thinned_total = int(row[0]) if row else 0  # across restarts
        self.thinned = 0  # telemetry rows dropped under pressure, since start
        self.full_errors = 0  # times the disk was full

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[None]:
        if not durable:
            # Per commit: WAL mode with synchronous=NORMAL keeps the file consistent
            # and skips the fsync; everything else stays synchronous=FULL.
            self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        finally:
            if not durable:
                self._db.execute("PRAGMA synchronous=FULL")

    # -- writing -------------------------------------------------------------------------

    def put_event(
        self, event_id: str, topic: str, payload: bytes, now: float | None = None
    ) -> bool:
        """Store an event; False if it is already here (a repeated copy).

        Returns only once the row is durable. Raises ``OutboxFull`` if the disk is full
        even after all telemetry is gone.
        """
        created = now if now is not None else time.time()
        try:
            inserted = self._insert_event(event_id, topic, payload, created)
        except sqlite3.OperationalError as exc:
            if not _is_full(exc):
                raise
            self.full_errors += 1
            # Events outrank telemetry: make room by dropping all of it, then retry.
            self._drop_telemetry(limit=None)
            try:
                inserted = self._insert_event(event_id, topic, payload, created)
            except sqlite3.OperationalError as again:
                if _is_full(again):
                    raise OutboxFull(
                        f"disk full: event {event_id} could not be stored even with no "
                        "telemetry left; free space under the gateway's data directory"
                    ) from None
                raise
        if inserted and self._bytes > self.max_bytes:
            self._thin_to_bound()
        return inserted

    def _insert_event(self, event_id: str, topic: str, payload: bytes, created: float) -> bool:
        cur = self._db.execute(
            "INSERT OR IGNORE INTO outbox (kind, event_id, topic, payload, created) "
            "VALUES ('event', ?, ?, ?, ?)",
            (event_id, topic, payload, created),
        )
        if cur.rowcount == 1:
            self._bytes += len(payload)
            return True
        return False

    def put_telemetry(self, topic: str, payload: bytes, now: float | None = None) -> bool:
        """Store a telemetry batch; False if the disk was full and it was dropped."""
        now = now if now is not None else time.time()
        try:
            self._insert_telemetry(topic, payload, now)
        except sqlite3.OperationalError as exc:
            if not _is_full(exc):
                raise
            self.full_errors += 1
            # Drop the oldest half of the telemetry and try once more; past that the
            # newest batch is the one thinned (counted), never an event.
            self._drop_telemetry(limit=max(1, self.depth()["telemetry"] // 2))
            try:
                self._insert_telemetry(topic, payload, now)
            except sqlite3.OperationalError as again:
                if not _is_full(again):
                    raise
                self.thinned += 1
                self.thinned_total += 1
                return False
        self._thin(now)
        return True

    def _insert_telemetry(self, topic: str, payload: bytes, now: float) -> None:
        self._db.execute(
            "INSERT INTO outbox (kind, topic, payload, created) VALUES ('telemetry', ?, ?, ?)",
            (topic, payload, now),
        )
        self._bytes += len(payload)

    def replace_event(self, event_id: str, payload: bytes) -> bool:
        """Rewrite a queued event's payload (e.g. marked as notified locally)."""
        with self._transaction():
            row = self._db.execute(
                "SELECT LENGTH(payload) FROM outbox WHERE kind = 'event' AND event_id = ?",
                (event_id,),
            ).fetchone()
            if row is None:
                return False
            self._db.execute(
                "UPDATE outbox SET payload = ? WHERE kind = 'event' AND event_id = ?",
                (payload, event_id),
            )
        self._bytes += len(payload) - int(row[0])
        return True

    # -- reading and removing ------------------------------------------------------------

    def pending(self, kind: str, limit: int = 100, after_seq: int = 0) -> list[Entry]:
        rows = self._db.execute(
            "SELECT seq, kind, event_id, topic, payload, created FROM outbox "
            "WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?",
            (kind, after_seq, limit),
        ).fetchall()
        return [Entry(*row) for row in rows]

    def event(self, event_id: str) -> Entry | None:
        row = self._db.execute(
            "SELECT seq, kind, event_id, topic, payload, created FROM outbox "
            "WHERE kind = 'event' AND event_id = ?",
            (event_id,),
        ).fetchone()
        return Entry(*row) if row else None

    def remove(self, seqs: Iterable[int]) -> int:
        """Remove rows by sequence number (telemetry after its PUBACK); return how many."""
        removed = 0
        # Not synced to disk on its own: a removal lost in a power cut only sends that
        # telemetry again (the fleet's writes are idempotent), and the next event's
        # synced commit makes it durable anyway. One fsync per batch, not two.
        with self._transaction(durable=False):
            for seq in seqs:
                row = self._db.execute(
                    "DELETE FROM outbox WHERE seq = ? RETURNING LENGTH(payload)", (seq,)
                ).fetchone()
                if row is not None:
                    removed += 1
                    self._bytes -= int(row[0])
        return removed

    def ack_events(self, event_ids: Iterable[str]) -> int:
        """The fleet stored these events: drop them; return how many were here."""
        removed = 0
        with self._transaction():
            for event_id in event_ids:
                row = self._db.execute(
                    "DELETE FROM outbox WHERE kind = 'event' AND event_id = ? "
                    "RETURNING LENGTH(payload)",
                    (event_id,),
                ).fetchone()
                if row is not None:
                    removed += 1
                    self._bytes -= int(row[0])
        return removed

    def depth(self) -> dict[str, int]:
        rows = self._db.execute("SELECT kind, COUNT(*) FROM outbox GROUP BY kind").fetchall()
        counts = dict.fromkeys(KINDS, 0)
        counts.update(dict(rows))
        return counts

    def backlog(self) -> dict[str, KindBacklog]:
        """Count, bytes and oldest row per kind (for the heartbeat and the status file)."""
        return _backlog(self._db)

    def size_bytes(self) -> int:
        return self._bytes

    def probe(self) -> None:
        """Prove the database answers (the watchdog asks); raises sqlite3.Error if not."""
        self._db.execute("SELECT 1 FROM outbox LIMIT 1").fetchall()

    # -- thinning ------------------------------------------------------------------------

    def _thin(self, now: float) -> None:
        cutoff = now - self.max_telemetry_age_s
        # Read first (an index lookup, no write): a DELETE in a transaction of its own
        # is a second fsync for every batch, for rows that are almost never that old.
        (oldest,) = self._db.execute(
            "SELECT MIN(created) FROM outbox WHERE kind = 'telemetry'"
        ).fetchone()
        if oldest is not None and oldest < cutoff:
            with self._transaction():
                rows = self._db.execute(
                    "DELETE FROM outbox WHERE kind = 'telemetry' AND created < ? "
                    "RETURNING LENGTH(payload)",
                    (cutoff,),
                ).fetchall()
                self._bytes -= sum(int(r[0]) for r in rows)
                self._count_thinned(len(rows))
        if self._bytes > self.max_bytes:
            self._thin_to_bound()

    def _thin_to_bound(self) -> None:
        with self._transaction():
            while self._bytes > self.max_bytes:
                rows = self._db.execute(
                    "SELECT seq, LENGTH(payload) FROM outbox WHERE kind = 'telemetry' "
                    "ORDER BY seq LIMIT 64"
                ).fetchall()
                if not rows:
                    return  # only events left: they are never dropped
                drop: list[int] = []
                excess = self._bytes - self.max_bytes
                for seq, size in rows:
                    drop.append(seq)
                    self._bytes -= int(size)
                    excess -= size
                    if excess <= 0:
                        break
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in drop])
                self._count_thinned(len(drop))

    def _drop_telemetry(self, limit: int | None) -> None:
        with self._transaction():
            rows = self._db.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
                "WHERE kind = 'telemetry' ORDER BY seq LIMIT ?) RETURNING LENGTH(payload)",
                (-1 if limit is None else limit,),
            ).fetchall()
            self._bytes -= sum(int(r[0]) for r in rows)
            self._count_thinned(len(rows))
        # Freed pages stay in the file; a checkpoint lets SQLite reuse the WAL's space.
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _count_thinned(self, n: int) -> None:
        if n <= 0:
            return
        self.thinned += n
        self.thinned_total += n
        self._db.execute(
            "INSERT INTO outbox_counters (name, value) VALUES ('thinned', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (n,),
        )
