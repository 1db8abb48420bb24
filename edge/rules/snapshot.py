"""What the rules remember between restarts: when each band last moved, and where each
dose stands (reminded, taken, reported).

Without it a gateway restarted at 10:00 would count a resident's stillness from 10:00
instead of 08:30, and forget that the 08:00 reminder went out (a second reminder, or a
missed dose never reported). Saved as ``data_dir/rules_state.json`` every minute and on
the way out (replaced atomically), read back at start-up; a damaged file is reported
and the rules start afresh. Fall confirmation windows are not kept: they last 30 s, and
a fall whose window a restart interrupted is judged again from the band's adverts.
"""

import logging
from pathlib import Path

import msgspec

from contract.files import write_atomically

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "rules_state.json"


class BandActivityState(msgspec.Struct, frozen=True, kw_only=True):
    device: str
    last_move: float
    steps: int | None = None
    worn: bool | None = None
    reported: bool = False


class DoseState(msgspec.Struct, frozen=True, kw_only=True):
    device: str
    slot: str  # "2026-05-01T08:00": the dose's local date and time
    due_at: float
    grace_end: float
    reminded_at: float | None = None
    taken_at: float | None = None
    reported: bool = False


class RulesSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    v: int = 1
    saved_at: float
    activity: list[BandActivityState] = []
    doses: list[DoseState] = []


def save(data_dir: Path, snapshot: RulesSnapshot) -> None:
    try:
        write_atomically(data_dir / SNAPSHOT_FILE, msgspec.json.encode(snapshot))
    except OSError as exc:
        log.error("rules: cannot save their state to %s: %s", data_dir / SNAPSHOT_FILE, exc)


def load(data_dir: Path) -> RulesSnapshot | None:
    path = data_dir / SNAPSHOT_FILE
    try:
        snapshot = msgspec.json.decode(path.read_bytes(), type=RulesSnapshot)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:
        log.warning("rules: saved state %s unusable (%s); starting afresh", path, exc)
        return None
    if snapshot.v != 1:
        log.warning("rules: saved state %s has version %s; starting afresh", path, snapshot.v)
        return None
    return snapshot
