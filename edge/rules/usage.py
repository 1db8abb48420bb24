"""What the flat's meters say about recent use — the second witness for the rules.

Produced by the utility-routine rules (edge/rules/utility.py) from meter readings and
consumed by the inactivity rule to raise or lower its severity. ``None`` means the
flat has no such meter or it is offline: no evidence either way.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UsageSummary:
    water: bool | None = None  # any water drawn within the span asked about
    power: bool | None = None  # power above the flat's idle baseline within the span


class UsageSource(Protocol):
    """Where the inactivity rule asks for meter evidence (edge.rules.utility.UtilityRules,
    and the gateway's MeterService, answer it)."""

    def recent_usage(self, flat: str, now: float, span_s: float) -> UsageSummary: ...
