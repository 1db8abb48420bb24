"""The versioned MQTT topic tree: ``sg/v1/gw/{gateway_id}/{kind}``.

Only opaque ids appear in topics; no resident name, address or phone number.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "sg/v1/gw"

# Gateway ids are opaque, short and topic-safe: no MQTT wildcards, no slashes.
GATEWAY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class TopicKind(StrEnum):
    EVENT = "event"  # gateway -> fleet, QoS 1, never dropped
    EVENT_ACK = "event/ack"  # fleet -> gateway: these event ids are stored
    TELEMETRY = "telemetry"  # gateway -> fleet, QoS 1, batched readings
    STATUS = "status"  # gateway -> fleet, retained; also the last will
    HEALTH = "health"  # gateway -> fleet, heartbeat
    CONFIG = "config"  # fleet -> gateway, retained desired state
    CONFIG_REPORTED = "config/reported"  # gateway -> fleet, applied version
    CMD = "cmd"  # fleet -> gateway, commands


class TopicError(ValueError):
    """A topic outside the contract."""


@dataclass(frozen=True, slots=True)
class Topic:
    gateway_id: str
    kind: TopicKind

    def __post_init__(self) -> None:
        if not GATEWAY_ID_RE.match(self.gateway_id):
            raise TopicError(
                f"gateway id {self.gateway_id!r} is not valid: use 2-63 characters "
                "of a-z, 0-9 and '-', starting with a letter or digit"
            )

    def __str__(self) -> str:
        return f"{PREFIX}/{self.gateway_id}/{self.kind.value}"


def parse_topic(topic: str) -> Topic:
    """Parse a topic of the tree; raise TopicError for anything else."""
    if not topic.startswith(PREFIX + "/"):
        raise TopicError(f"topic {topic!r} is outside {PREFIX}/")
    rest = topic[len(PREFIX) + 1 :]
    gateway_id, _, kind = rest.partition("/")
    try:
        return Topic(gateway_id, TopicKind(kind))
    except ValueError as exc:
        raise TopicError(f"topic {topic!r}: {exc}") from None


def subscription(kind: TopicKind, gateway_id: str = "+") -> str:
    """A subscription filter for one kind, for one gateway or (``+``) all of them."""
    return f"{PREFIX}/{gateway_id}/{kind.value}"
