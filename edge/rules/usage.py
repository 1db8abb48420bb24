"""What the flat's meters say about recent use — the second witness for the rules.

Produced by the utility-routine rules (edge/rules/utility.py) from meter readings and
consumed by the inactivity rule to raise or lower its severity. ``None`` means the
flat has no such meter or it is offline: no evidence either way.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UsageSummary:
    water: bool | None = None  # any water drawn within the span asked about
    power: bool | None = None  # power above the flat's idle baseline within the span
