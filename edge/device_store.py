"""Per-device state that must survive a gateway restart: the replay counters.

Written every few seconds and at shutdown, not per advert (an SD card would not last).
A replayed advert from the unsaved seconds before a crash would carry an event id the
fleet has already seen, so it cannot raise a new alert.
"""

import sqlite3
from collections.abc import Mapping
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_counters (
    address TEXT PRIMARY KEY,
    counter INTEGER NOT NULL
);
"""


class DeviceStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def load_counters(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT address, counter FROM device_counters").fetchall())

    def save_counters(self, counters: Mapping[str, int]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO device_counters (address, counter) VALUES (?, ?) "
                "ON CONFLICT (address) DO UPDATE SET counter = MAX(counter, excluded.counter)",
                list(counters.items()),
            )

    def close(self) -> None:
        self._db.close()
