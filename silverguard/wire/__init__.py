"""The MQTT wire contract shared by the gateway (edge) and the fleet.

This package is the code form of ``docs/mqtt-contract.md`` and ``docs/asyncapi.yaml``:
topic names, payload schemas and deterministic event ids. It imports nothing but
msgspec so that it runs on a gateway without the fleet's dependencies.
"""

from silverguard.wire.ids import event_id
from silverguard.wire.messages import (
    SCHEMA_VERSION,
    Event,
    EventAck,
    EventKind,
    FieldValue,
    GatewayStatus,
    Health,
    Reading,
    Severity,
    TelemetryBatch,
    WireError,
    decode,
    encode,
)
from silverguard.wire.topics import Topic, TopicKind, parse_topic

__all__ = [
    "SCHEMA_VERSION",
    "Event",
    "EventAck",
    "EventKind",
    "FieldValue",
    "GatewayStatus",
    "Health",
    "Reading",
    "Severity",
    "TelemetryBatch",
    "Topic",
    "TopicKind",
    "WireError",
    "decode",
    "encode",
    "event_id",
    "parse_topic",
]
