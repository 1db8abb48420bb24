"""A resident's care plan as the gateway's rules need it: active hours, how long without
movement is worrying, and when doses are due.

Stored in ``residents.settings`` as given; sent to the gateways that cover the
resident inside ``ResidentConfig.settings``. Medication names are health data and stay
in the registry: the gateway gets only dose ids and times.
"""

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
_LABEL = re.compile(r"^[^\x00-\x1f\x7f]*$")


class ActiveHours(BaseModel):
    """When the resident is normally up; stillness outside these hours is sleep."""

    model_config = ConfigDict(extra="forbid")
    start: ClockTime = Field(description="HH:MM, local time")
    end: ClockTime = Field(description="HH:MM, local time; may be past midnight (before start)")


class MedicationDose(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,19}$")] = Field(
        description="short opaque id, e.g. 'am'; the gateway's missed-dose events name it"
    )
    time: ClockTime
    # What to take: kept in the registry only, never sent to a gateway.
    label: str = Field("", max_length=80)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL.match(value):
            raise ValueError("control characters are not allowed")
        return value


class ResidentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active_hours: ActiveHours | None = None
    # Without movement this long inside active hours, the gateway raises inactivity.
    # 15 minutes is about the shortest span a sitting resident stays perfectly still.
    inactivity_minutes: int | None = Field(None, ge=15, le=24 * 60)
    medication: list[MedicationDose] = Field(default_factory=list, max_length=12)

    @field_validator("medication")
    @classmethod
    def _unique_ids(cls, doses: list[MedicationDose]) -> list[MedicationDose]:
        ids = [dose.id for dose in doses]
        if len(ids) != len(set(ids)):
            raise ValueError("each dose needs its own id")
        return doses


def rule_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """What goes on the wire for one resident: the plan without the medication names."""
    plan = ResidentSettings.model_validate(stored)
    out: dict[str, Any] = {}
    if plan.active_hours is not None:
        out["active_hours"] = plan.active_hours.model_dump()
    if plan.inactivity_minutes is not None:
        out["inactivity_minutes"] = plan.inactivity_minutes
    if plan.medication:
        out["medication"] = [{"id": dose.id, "time": dose.time} for dose in plan.medication]
    return out
