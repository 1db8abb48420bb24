"""Payload schemas of the MQTT contract (JSON, validated on receipt).

Every payload carries ``v`` (schema version). Times are Unix seconds (float, UTC).
Devices are named by opaque ids (a wristband by its BLE MAC, a meter by its
configured id); residents never appear on the wire.

Every field is typed and bounded here, once, for both sides: a payload that is too
big, too deep or out of range fails :func:`decode` with a :class:`WireError` naming
the field, before any of the receiver's code sees it. Whether a value makes sense
*now* (a timestamp near the receiver's clock, a device the sender covers) is the
receiver's judgement, not the schema's.
"""

from enum import StrEnum
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from contract.ids import event_id

SCHEMA_VERSION = 1

# A payload larger than this is refused before it is parsed (a telemetry batch of
# 500 readings is ~60 kB; an event ~1 kB).
MAX_PAYLOAD_BYTES = 256 * 1024

# Unix seconds between 2000-01-01 and 2100-01-01: anything else is a broken clock or
# a forgery, and would not even convert to a date on some platforms.
Timestamp = Annotated[float, Meta(ge=946_684_800.0, le=4_102_444_800.0)]
# BLE RSSI in dBm: receivers report -127 (nothing) up to about +20 (touching).
Rssi = Annotated[int, Meta(ge=-127, le=20)]
# Opaque ids of devices and flats: a MAC, a meter id ("m-0001-e"), a flat id.
DeviceId = Annotated[
    str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]*$")
]
GatewayId = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
EventId = Annotated[
    str, Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
Name = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, Meta(max_length=256)]

# Field values a reading may carry; anything else is refused at decode time.
FieldValue = bool | int | float | Text
# Evidence of an event: flat name -> value (None: "not known", e.g. no meter).
EvidenceValue = bool | int | float | Text | None
Evidence = Annotated[dict[Name, EvidenceValue], Meta(max_length=32)]
Fields = Annotated[dict[Name, FieldValue], Meta(max_length=64)]


class WireError(ValueError):
    """A payload that does not match the contract. The message says what is wrong."""


class Severity(StrEnum):
    CRITICAL = "critical"  # someone must go now: fall, SOS
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"  # near-misses, device care

    @property
    def rank(self) -> int:
        """Higher is more urgent: low 0, medium 1, high 2, critical 3."""
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


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


# Kinds only the fleet raises (about gateways); a gateway sending one is refused.
FLEET_ONLY_KINDS = frozenset({EventKind.GATEWAY_OFFLINE, EventKind.GATEWAY_ONLINE})


class Event(_Message, frozen=True):
    """Something a gateway decided; delivered at least once, folded by ``id``.

    ``id`` is ``event_id(device, kind, key)``: build events with :meth:`incident`, and
    a receiver checks :meth:`id_matches` — an id that is not built from its own
    device, kind and key is a forgery (it could pre-empt another device's incident).
    """

    id: EventId
    kind: EventKind
    severity: Severity
    device: DeviceId  # wristband MAC or meter id
    key: Annotated[str, Meta(min_length=1, max_length=64)]  # what makes the id unique
    gateway: GatewayId  # the gateway that decided it (several may send the same id)
    occurred_at: Timestamp  # when it happened (device/gateway clock)
    detected_at: Timestamp  # when the gateway decided it
    evidence: Evidence = {}
    notified_locally: bool = False  # an SMS already went out from the gateway's modem

    @classmethod
    def incident(
        cls,
        kind: EventKind,
        severity: Severity,
        *,
        device: str,
        gateway: str,
        key: str | int,
        occurred_at: float,
        detected_at: float,
        evidence: dict[str, EvidenceValue] | None = None,
    ) -> "Event":
        """An event whose id depends only on the device, the kind and ``key``."""
        return cls(
            id=event_id(device, kind, key),
            kind=kind,
            severity=severity,
            device=device,
            key=str(key),
            gateway=gateway,
            occurred_at=occurred_at,
            detected_at=detected_at,
            evidence=evidence or {},
        )

    def id_matches(self) -> bool:
        return self.id == event_id(self.device, self.kind, self.key)


class EventAck(_Message, frozen=True):
    """Fleet -> gateway: these events are stored; the gateway may drop them."""

    ids: Annotated[list[EventId], Meta(max_length=1000)]


class ReadingKind(StrEnum):
    WRISTBAND = "wristband"
    METER = "meter"
    SENSOR = "sensor"  # a plaintext BTHome device in the flat (door contact, motion ...)


class Reading(msgspec.Struct, frozen=True, kw_only=True):
    """One device's values at one time."""

    device: DeviceId
    ts: Timestamp
    kind: ReadingKind = ReadingKind.WRISTBAND
    rssi: Rssi | None = None
    fields: Fields = {}


class TelemetryBatch(_Message, frozen=True):
    gateway: GatewayId
    seq: Annotated[int, Meta(ge=0)]  # per-gateway batch sequence, for loss accounting
    readings: Annotated[list[Reading], Meta(max_length=2000)]


class GatewayState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class GatewayStatus(_Message, frozen=True):
    """Retained; ``offline`` is also the gateway's last will."""

    gateway: GatewayId
    state: GatewayState
    ts: Timestamp
    version: Annotated[str, Meta(max_length=32)] = ""


class Health(_Message, frozen=True):
    gateway: GatewayId
    ts: Timestamp
    uptime_s: Annotated[float, Meta(ge=0)]
    figures: Annotated[dict[Name, FieldValue], Meta(max_length=256)] = {}


_T = TypeVar("_T")
_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def encode(message: msgspec.Struct) -> bytes:
    return _ENCODER.encode(message)


def decode(payload: bytes | bytearray | memoryview, schema: type[_T]) -> _T:
    """Decode and validate one payload; raise WireError naming the problem."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(
            f"{schema.__name__} payload of {len(payload)} bytes is over the "
            f"{MAX_PAYLOAD_BYTES} bytes a message may have"
        )
    decoder = _DECODERS.get(schema)
    if decoder is None:
        decoder = _DECODERS[schema] = msgspec.json.Decoder(schema)
    try:
        message: _T = decoder.decode(payload)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise WireError(f"invalid {schema.__name__} payload: {exc}") from None
    version = getattr(message, "v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise WireError(f"{schema.__name__} schema version {version} is not supported (want 1)")
    return message
