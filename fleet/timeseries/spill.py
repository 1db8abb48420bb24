"""Telemetry InfluxDB has not taken yet, on disk: it survives a fleet crash or restart.

Gateways hand telemetry over with an MQTT PUBACK and drop it; from then on the fleet
alone has it. Kept in memory while InfluxDB was down, a killed fleet lost all of it
(600 of 600 readings in the probe). So lines InfluxDB did not take — and every line
that arrives while it is unreachable — go into ``influx-spill.db`` in the data
directory (SQLite, WAL, ``synchronous=FULL``: a line is on disk when ``put`` returns)
and are written back, oldest first, when InfluxDB answers again, in this process or
the next. A line written twice (crash between the write and the delete) is harmless:
InfluxDB keeps one point per series and timestamp.

Bounded: past ``max_bytes`` the oldest lines are dropped and counted — a month of a
district's telemetry is not worth the disk the events need. The file is created
0600: it holds device ids and readings of identifiable people's homes.
"""

import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spill (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    lines INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    body TEXT NOT NULL
)
"""


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (then make it 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        path.chmod(0o600)


class Spill:
    def __init__(self, path: Path, *, max_bytes: int) -> None:
        create_private(path)
        self.path = path
        self.max_bytes = max_bytes
        # One connection, used from the event loop and from the writer; serialised.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        lines, size = self._db.execute(
            "SELECT COALESCE(SUM(lines), 0), COALESCE(SUM(bytes), 0) FROM spill"
        ).fetchone()
        self.lines, self.bytes = int(lines), int(size)
        self.dropped = 0
        self.spilled = 0
        if self.lines:
            log.info("influx spill: %d lines from before the restart to write back", self.lines)

    def put(self, lines: list[str]) -> None:
        """Keep ``lines`` on disk (fsynced when this returns); drop the oldest past the bound."""
        if not lines:
            return
        body = "\n".join(lines)
        size = len(body.encode())
        with self._lock:
            self._db.execute(
                "INSERT INTO spill (lines, bytes, body) VALUES (?, ?, ?)", (len(lines), size, body)
            )
            self.lines += len(lines)
            self.bytes += size
            self.spilled += len(lines)
            while self.bytes > self.max_bytes:
                row = self._db.execute(
                    "SELECT seq, lines, bytes FROM spill ORDER BY seq LIMIT 1"
                ).fetchone()
                if row is None:
                    break
                self._db.execute("DELETE FROM spill WHERE seq = ?", (row[0],))
                self.lines -= int(row[1])
                self.bytes -= int(row[2])
                self.dropped += int(row[1])
                log.warning("influx spill: full, dropped the oldest %d lines", row[1])

    def peek(self, max_lines: int) -> tuple[list[int], list[str]]:
        """The oldest rows, up to about ``max_lines`` lines (at least one row)."""
        seqs: list[int] = []
        lines: list[str] = []
        with self._lock:
            for seq, body in self._db.execute("SELECT seq, body FROM spill ORDER BY seq"):
                seqs.append(int(seq))
                lines.extend(str(body).split("\n"))
                if len(lines) >= max_lines:
                    break
        return seqs, lines

    def remove(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with self._lock:
            marks = ",".join("?" * len(seqs))
            lines, size = self._db.execute(
                f"SELECT COALESCE(SUM(lines), 0), COALESCE(SUM(bytes), 0) FROM spill "  # noqa: S608
                f"WHERE seq IN ({marks})",
                seqs,
            ).fetchone()
            self._db.execute(f"DELETE FROM spill WHERE seq IN ({marks})", seqs)  # noqa: S608
            self.lines -= int(lines)
            self.bytes -= int(size)

    def close(self) -> None:
        with self._lock:
            self._db.close()
