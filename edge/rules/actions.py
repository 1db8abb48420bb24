"""What rules produce besides events: commands for a band, and the event builder they share."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contract import Event, EventKind, Severity


class CommandKind(StrEnum):
    MEDICATION_REMINDER = "medication_reminder"  # vibrate and show the dose time


@dataclass(frozen=True, slots=True)
class BandCommand:
    """Something to tell a band the next time it is heard (a GATT write).

    ``key`` identifies the command for dedup (several gateways may queue the same
    reminder; the band ignores a key it has already shown). ``expires_at``: after that
    the command is pointless (the dose window is over) and is dropped unsent.
    """

    kind: CommandKind
    device: str
    key: str
    created_at: float
    expires_at: float
    params: dict[str, Any] = field(default_factory=dict)


def make_event(
    kind: EventKind,
    severity: Severity,
    *,
    device: str,
    gateway: str,
    key: str | int,
    occurred_at: float,
    detected_at: float,
    evidence: dict[str, Any],
) -> Event:
    """An event whose id depends only on the device, the kind and ``key``."""
    return Event.incident(
        kind,
        severity,
        device=device,
        gateway=gateway,
        key=key,
        occurred_at=occurred_at,
        detected_at=detected_at,
        evidence=evidence,
    )
