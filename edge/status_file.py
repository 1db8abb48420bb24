"""``data_dir/status.json``: what only the running gateway knows, one typed struct.

The gateway rewrites it every ``status_interval_s``; ``silverguard gateway status``
(edge/status.py) and the simulation read it. One definition for writer and readers:
a field renamed here is renamed for all of them. Times are real Unix seconds
(``written_at``: the reader compares it with its own clock to tell a live gateway from
a dead one); product times (uplink since, last heartbeat) are the gateway's clock.
"""

from pathlib import Path

import msgspec

from contract import FieldValue
from contract.config import SetAside
from contract.files import write_atomically

STATUS_FILE = "status.json"


class UplinkStatus(msgspec.Struct, kw_only=True, frozen=True):
    state: str  # connected | connecting | down
    since: float
    broker: str
    tls: bool
    last_connected: float | None = None
    last_heartbeat: float | None = None
    last_error: str = ""
    backoff_s: float = 0.0
    reconnects: int = 0
    publish_refused: int = 0
    events_published: int = 0
    events_acked: int = 0
    telemetry_published: int = 0
    offline_for_s: float = 0.0


class ConfigStatus(msgspec.Struct, kw_only=True, frozen=True):
    version: int | None = None  # the pushed config running, None before the first
    applied: int = 0
    refused: int = 0
    rejected_version: int | None = None
    error: str = ""
    set_aside: list[SetAside] = []


class RadioStatus(msgspec.Struct, kw_only=True, frozen=True):
    adverts_seen: int = 0
    adverts_accepted: int = 0
    adverts_per_s: float = 0.0
    devices_heard: int = 0
    bands_configured: int = 0
    rejects: dict[str, int] = {}


class OutboxStatus(msgspec.Struct, kw_only=True, frozen=True):
    bytes: int = 0
    thinned_since_start: int = 0
    full_errors: int = 0
    events_unstored: int = 0


class WatchdogStatus(msgspec.Struct, kw_only=True, frozen=True):
    systemd: bool = False
    healthy: bool = True
    stale: list[str] = []


class SmsStatus(msgspec.Struct, kw_only=True, frozen=True):
    port: str
    offline_after_s: float
    sent: int = 0
    failed: int = 0
    events_notified: int = 0
    events_without_contacts: int = 0
    last_error: str = ""
    last_sent_at: float | None = None


class StatusFile(msgspec.Struct, kw_only=True, frozen=True):
    gateway: str
    version: str
    pid: int
    started_at: float
    written_at: float
    interval_s: float
    uplink: UplinkStatus
    config: ConfigStatus = ConfigStatus()
    radio: RadioStatus = RadioStatus()
    outbox: OutboxStatus = OutboxStatus()
    events_stored: int = 0
    meters: dict[str, FieldValue] = {}
    watchdog: WatchdogStatus = WatchdogStatus()
    sms: SmsStatus | None = None


def write_status(data_dir: Path, status: StatusFile) -> None:
    """Replace the status file atomically (a reader never sees half a file); no fsync:
    it is rewritten every few seconds and worthless after a power cut."""
    payload = msgspec.json.format(msgspec.json.encode(status), indent=1)
    write_atomically(data_dir / STATUS_FILE, payload, mode=0o644, sync=False)


def read_status(path: Path) -> StatusFile:
    """Raises OSError if it cannot be read, ValueError if it is not a status file."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=StatusFile)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a status file of this gateway version: {exc}") from None
