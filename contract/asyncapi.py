"""The AsyncAPI 3.0 document of the MQTT contract, generated from the wire schemas.

``docs/asyncapi.yaml`` is this module's output; a test keeps the two in step, so the
document cannot drift from the code. Regenerate with::

    python -m contract.asyncapi > docs/asyncapi.yaml
"""

from typing import Any

import msgspec
from pydantic import BaseModel

from contract import __version__
from contract.config import ConfigReport, GatewayConfig
from contract.messages import Event, EventAck, GatewayStatus, Health, TelemetryBatch
from contract.topics import PREFIX, TopicKind

# kind -> (payload schema, sender, QoS, retained, what it is for)
_CHANNELS: dict[TopicKind, tuple[type[msgspec.Struct] | type[BaseModel], str, int, bool, str]] = {
    TopicKind.EVENT: (
        Event,
        "gateway",
        1,
        False,
        "An event the gateway decided. Never dropped: it stays in the gateway's outbox until the fleet acknowledges it on event/ack, and is sent again until then. Fold by id.",
    ),
    TopicKind.EVENT_ACK: (
        EventAck,
        "fleet",
        1,
        False,
        "The fleet stored these events (committed to its registry); the gateway may drop them from its outbox.",
    ),
    TopicKind.TELEMETRY: (
        TelemetryBatch,
        "gateway",
        1,
        False,
        "The latest reading of each device heard since the last batch. Removed from the outbox on PUBACK; may be thinned, oldest first, when the gateway's disk bound is reached.",
    ),
    TopicKind.STATUS: (
        GatewayStatus,
        "gateway",
        1,
        True,
        "online when connected; offline is the gateway's last will.",
    ),
    TopicKind.HEALTH: (
        Health,
        "gateway",
        0,
        False,
        "Heartbeat with health figures (outbox depth, adverts, rejects by reason, resources).",
    ),
    TopicKind.CONFIG: (
        GatewayConfig,
        "fleet",
        1,
        True,
        "Desired configuration. Secrets are sealed to the gateway's own public key.",
    ),
    TopicKind.CONFIG_REPORTED: (
        ConfigReport,
        "gateway",
        1,
        False,
        "The configuration version the gateway runs and the parts it set aside (with reasons), or why it rejected one whole.",
    ),
}


def _operation_id(kind: TopicKind) -> str:
    return kind.value.replace("/", "_")


def _components() -> dict[str, Any]:
    """JSON schemas of every payload: msgspec's for the messages, pydantic's for the
    config (its sections share models with the fleet's API)."""
    structs = sorted(
        {spec[0] for spec in _CHANNELS.values() if issubclass(spec[0], msgspec.Struct)},
        key=lambda t: t.__name__,
    )
    _, components = msgspec.json.schema_components(
        structs, ref_template="#/components/schemas/{name}"
    )
    for spec in _CHANNELS.values():
        model = spec[0]
        if isinstance(model, type) and issubclass(model, BaseModel):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
    return dict(sorted(components.items()))


def build_document() -> dict[str, Any]:
    components = _components()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for kind, (schema, sender, qos, retained, purpose) in _CHANNELS.items():
        name = _operation_id(kind)
        messages[schema.__name__] = {
            "name": schema.__name__,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{schema.__name__}"},
        }
        channels[name] = {
            "address": f"{PREFIX}/{{gateway_id}}/{kind.value}",
            "description": purpose,
            "parameters": {
                "gateway_id": {"description": "Opaque gateway id: 2-63 of a-z, 0-9, '-'."}
            },
            "messages": {schema.__name__: {"$ref": f"#/components/messages/{schema.__name__}"}},
        }
        operations[f"{sender}_sends_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"The {sender} publishes {kind.value} (QoS {qos}{', retained' if retained else ''}).",
            "bindings": {"mqtt": {"qos": qos, "retain": retained}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Silverguard gateway <-> fleet MQTT contract",
            "version": __version__,
            "description": (
                "Versioned topic tree sg/v1/gw/{gateway_id}/{kind}. Opaque ids only: no resident "
                "names or phone numbers on the broker. Every payload is JSON with a schema version "
                "field v, validated on receipt; an invalid message is counted and parked, never "
                "fatal. Human-readable companion: docs/mqtt-contract.md."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }
