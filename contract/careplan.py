"""A resident's care plan: what the gateway's rules need to know about one person.

Set by health-center staff through the fleet's API (``PUT /api/v1/residents/{id}``,
field ``care_plan``), stored in the registry, and sent to every gateway covering the
resident inside ``ResidentConfig.plan``. The same type is validated on both sides, so a
plan the API accepts is a plan the gateway can apply.

Durations are seconds, as everywhere in the contract. Times of day are local times of
the community (``GatewayRules.timezone``), written ``HH:MM``. Medication names are
health data and stay in the registry: the plan carries only dose ids and times.
"""

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
    model_validator,
)

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(value: str) -> dt.time:
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day like 07:30")
    return dt.time(int(match.group(1)), int(match.group(2)))


def _time_of_day(value: Any) -> Any:
    return parse_hhmm(value) if isinstance(value, str) else value


def _hhmm(value: dt.time) -> str:
    return f"{value:%H:%M}"


# A local time of day: "HH:MM" on the wire and in the API, dt.time in code.
ClockTime = Annotated[dt.time, PlainSerializer(_hhmm, return_type=str)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActiveHours(_Model):
    """The part of the day when the resident is normally up; stillness outside is sleep.

    A span that crosses midnight (start after end: "22:00"-"06:00", someone who works
    nights) is allowed. TOML and the API may also write it as one string "07:00-22:00".
    """

    start: ClockTime = Field(dt.time(7, 0), description="HH:MM, local time")
    end: ClockTime = Field(dt.time(22, 0), description="HH:MM, local time; may be before start")

    _times = field_validator("start", "end", mode="before")(_time_of_day)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError(f"{value!r}: write active hours as HH:MM-HH:MM, e.g. 07:00-22:00")
            return {"start": start, "end": end}
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> "ActiveHours":
        if self.start == self.end:
            raise ValueError("active hours must not start and end at the same time")
        return self

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


DoseId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,19}$")]


class Dose(_Model):
    """One scheduled dose: a local time of day, every day."""

    id: DoseId = Field(description="short opaque id, e.g. 'am'; missed-dose events name it")
    time: ClockTime = Field(description="HH:MM, local time")

    _time = field_validator("time", mode="before")(_time_of_day)


class FallSensitivity(StrEnum):
    """How readily the fall rules flag a fall for this resident (bounds in the rules).

    ``standard`` is the setting judged on recordings of other people and devices; staff
    move one step for a reason they can say (a wheelchair user whose falls are short,
    a very active resident whose brisk movements look like impacts).
    """

    LOW = "low"
    STANDARD = "standard"
    HIGH = "high"


class CarePlan(_Model):
    """One resident's schedule and thresholds; the gateway's defaults fill anything absent."""

    active_hours: ActiveHours | None = Field(
        None, description="when the resident is normally up; default: the gateway's"
    )
    # Without movement this long inside active hours, the gateway raises inactivity.
    # 15 minutes is about the shortest span a sitting resident stays perfectly still;
    # more than a day would never fire inside one day's active hours.
    inactivity_s: int | None = Field(
        None, ge=15 * 60, le=24 * 3600, description="seconds; default: the gateway's"
    )
    medication: list[Dose] = Field(default_factory=list, max_length=12)
    fall_sensitivity: FallSensitivity = FallSensitivity.STANDARD

    @field_validator("medication")
    @classmethod
    def _distinct(cls, doses: list[Dose]) -> list[Dose]:
        ids = [dose.id for dose in doses]
        if len(ids) != len(set(ids)):
            raise ValueError("each dose needs its own id")
        times = [dose.time for dose in doses]
        if len(times) != len(set(times)):
            raise ValueError("two doses at the same time of day")
        return sorted(doses, key=lambda dose: dose.time)
