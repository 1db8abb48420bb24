"""Payload schemas of the MQTT contract (JSON, validated on receipt).

Every payload carries ``v`` (schema version). Times are Unix seconds (float, UTC).
Devices are named by opaque ids (a wristband by its BLE MAC, a meter by its
configured id); residents never appear on the wire.
"""

from enum import StrEnum
from typing import Any, TypeVar

import msgspec

SCHEMA_VERSION = 1

# Field values a reading may carry; anything else is refused at decode time.
FieldValue = bool | int | float | str


class WireError(ValueError):
    """A payload that does not match the contract. The message says what is wrong."""


class Severity(StrEnum):
    CRITICAL = "critical"  # someone must go now: fall, SOS
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"  # near-misses, device care


class EventKind(StrEnum):
    SOS = "sos"
    FALL = "fall"
    FALL_CANCELLED = "fall_cancelled"
    INACTIVITY = "inactivity"
    MISSED_DOSE = "missed_dose"
    MEDICATION_TAKEN = "medication_taken"
    LOW_BATTERY = "low_battery"
    NOT_WORN = "not_worn"
    NOT_SEEN = "not_seen"
    METER_OFFLINE = "meter_offline"
    NO_WATER = "no_water"
    WATER_RUNNING = "water_running"
    NO_POWER_USE = "no_power_use"
    # Raised by the fleet, not a gateway: a gateway has been offline too long, so the
    # residents it covers are unprotected; "online" again resolves it.
    GATEWAY_OFFLINE = "gateway_offline"
    GATEWAY_ONLINE = "gateway_online"


class _Message(msgspec.Struct, kw_only=True, frozen=True):
    v: int = SCHEMA_VERSION


class Event(_Message, frozen=True):
    """Something a gateway decided; delivered at least once, folded by ``id``."""

    id: str
    kind: EventKind
    severity: Severity
    device: str  # wristband MAC or meter id
    gateway: str  # the gateway that decided it (several may send the same id)
    occurred_at: float  # when it happened (device/gateway clock)
    detected_at: float  # when the gateway decided it
    evidence: dict[str, Any] = {}
    notified_locally: bool = False  # an SMS already went out from the gateway's modem


class EventAck(_Message, frozen=True):
    """Fleet -> gateway: these events are stored; the gateway may drop them."""

    ids: list[str]


class Reading(msgspec.Struct, frozen=True, kw_only=True):
    """One device's values at one time."""

    device: str
    ts: float
    kind: str = "wristband"  # wristband | meter | sensor
    rssi: int | None = None
    fields: dict[str, FieldValue] = {}


class TelemetryBatch(_Message, frozen=True):
    gateway: str
    seq: int  # per-gateway batch sequence, for loss accounting
    readings: list[Reading]


class GatewayStatus(_Message, frozen=True):
    """Retained; ``offline`` is also the gateway's last will."""

    gateway: str
    state: str  # online | offline
    ts: float
    version: str = ""


class Health(_Message, frozen=True):
    gateway: str
    ts: float
    uptime_s: float
    figures: dict[str, FieldValue] = {}


_T = TypeVar("_T")
_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def encode(message: msgspec.Struct) -> bytes:
    return _ENCODER.encode(message)


def decode(payload: bytes | bytearray | memoryview, schema: type[_T]) -> _T:
    """Decode and validate one payload; raise WireError naming the problem."""
    decoder = _DECODERS.get(schema)
    if decoder is None:
        decoder = _DECODERS[schema] = msgspec.json.Decoder(schema)
    try:
        message: _T = decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise WireError(f"invalid {schema.__name__} payload: {exc}") from None
    version = getattr(message, "v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise WireError(f"{schema.__name__} schema version {version} is not supported (want 1)")
    return message
