"""Per-device state that must survive a gateway restart: replay counters and what the
gateway last knew of each device (last seen, RSSI, battery, fields).

Written every few seconds and at shutdown, not per advert (an SD card would not last).
A replayed advert from the unsaved seconds before a crash would carry an event id the
fleet has already seen, so it cannot raise a new alert.
"""

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from contract.messages import ReadingKind
from edge.state import DeviceState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_counters (
    address TEXT PRIMARY KEY,
    counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS device_state (
    address TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    last_seen REAL NOT NULL,
    rssi INTEGER NOT NULL,
    adverts INTEGER NOT NULL,
    fields TEXT NOT NULL
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

    def load_states(self) -> dict[str, DeviceState]:
        states = {}
        for address, kind, last_seen, rssi, adverts, fields in self._db.execute(
            "SELECT address, kind, last_seen, rssi, adverts, fields FROM device_state"
        ):
            states[address] = DeviceState(
                address,
                kind=ReadingKind(kind),
                last_seen=last_seen,
                rssi=rssi,
                adverts=adverts,
                fields=json.loads(fields),
            )
        return states

    def save(self, counters: Mapping[str, int], states: Iterable[DeviceState] = ()) -> None:
        """Save the counters (and, when given, the device states) in one transaction."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO device_counters (address, counter) VALUES (?, ?) "
                "ON CONFLICT (address) DO UPDATE SET counter = MAX(counter, excluded.counter)",
                list(counters.items()),
            )
            states = list(states)
            if not states:
                return
            self._db.executemany(
                "INSERT OR REPLACE INTO device_state (address, kind, last_seen, rssi, adverts, fields) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (s.address, s.kind, s.last_seen, s.rssi, s.adverts, json.dumps(s.fields))
                    for s in states
                ],
            )

    def close(self) -> None:
        self._db.close()
