"""The contract between the gateway (edge) and the fleet: the bottom layer.

Everything that crosses between the two processes is declared here once, typed:
topic names and payload schemas (``messages``, ``topics``), the gateway's desired
config and its report (``config``), care plans, rule thresholds and meters
(``careplan``, ``rules``, ``meters``), deterministic event ids (``ids``), the broker's
ACLs (``acl``) and the sealing of secrets to one gateway (``sealing``).

This package is the code form of ``docs/mqtt-contract.md`` and ``docs/asyncapi.yaml``.
It imports neither edge/ nor fleet/ nor the shell (checked by import-linter, see
``.importlinter``); it needs only msgspec, pydantic and PyNaCl, so it runs on a gateway.
"""

from contract.ids import event_id
from contract.messages import (
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
from contract.topics import Topic, TopicKind, parse_topic
from contract.version import __version__

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
    "__version__",
    "decode",
    "encode",
    "event_id",
    "parse_topic",
]
