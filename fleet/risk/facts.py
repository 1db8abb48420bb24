"""The facts risk tags read (fleet/risk/tags.toml), one value per resident and day.

Each fact has one source. ``None`` means the source had nothing to say (no band
telemetry, no birth year on file): a tag on it does not hold, and the board says the
fact is missing rather than clear.

=========================  ==========================================================
fact                       where it comes from
=========================  ==========================================================
falls_30d                  fall events of the resident's band, 30 days
near_falls_30d             fall alarms the resident cancelled (fall_cancelled), 30 days
activity_ratio_7d          daily steps of the last 7 days / the 28 days before (telemetry)
night_activity_share_7d    share of the last 7 days' steps between 22:00 and 06:00
not_worn_7d                "not worn" events, 7 days
battery_flat_30d           "battery low" and "not heard" events, 30 days
missed_doses_7d            missed-dose events, 7 days
no_water_mornings_7d       "no water by the usual time" events, 7 days
water_running_7d           "water running for hours" events, 7 days
sos_30d                    SOS events, 30 days
unanswered_30d             alerts the caregivers did not acknowledge at the first step
lives_alone                the registry
age                        the registry (birth year)
dementia                   the registry (conditions noted by the health center)
conditions                 the registry: how many conditions are noted
reports_30d                reports from outside (grid worker, hotline …), 30 days
=========================  ==========================================================
"""

from dataclasses import dataclass, field, fields

FactValue = int | float | bool | None


@dataclass(frozen=True, slots=True)
class Facts:
    falls_30d: int | None = None
    near_falls_30d: int | None = None
    activity_ratio_7d: float | None = None
    night_activity_share_7d: float | None = None
    not_worn_7d: int | None = None
    battery_flat_30d: int | None = None
    missed_doses_7d: int | None = None
    no_water_mornings_7d: int | None = None
    water_running_7d: int | None = None
    sos_30d: int | None = None
    unanswered_30d: int | None = None
    lives_alone: bool | None = None
    age: int | None = None
    dementia: bool | None = None
    conditions: int | None = None
    reports_30d: int | None = None
    # Not a fact a tag compares: the names of the sources that reported, for evidence.
    report_sources: tuple[str, ...] = field(default=())

    def value(self, fact: str) -> FactValue:
        value: FactValue = getattr(self, fact)
        return value


FACTS = tuple(f.name for f in fields(Facts) if f.name != "report_sources")
