"""Field types shared by the API's request models.

Every text field refuses control characters (PostgreSQL cannot store NUL, and nothing
a person types needs them) and has the column's length, so a bad request gets a 422
naming the field instead of a database error.
"""

from datetime import date
from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, Field, StringConstraints

# Days a request may name (report ranges, evaluations): the date arithmetic around
# them (a week before, the day after) must not leave what dates can hold, which the
# API fuzz found as 500s at date.min and date.max.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
# A report's range (SLA, arrival): the first and last local day, both optional.
StartDay = Annotated[
    date | None,
    Query(ge=FIRST_DAY, le=LAST_DAY, description="first local day (default: 6 days ago)"),
]
EndDay = Annotated[
    date | None,
    Query(ge=FIRST_DAY, le=LAST_DAY, description="last local day (default: today)"),
]

# Opaque ids of places and people: lower-case, no spaces, no personal data.
ID_PATTERN = r"^[a-z][a-z0-9-]{1,39}$"
OpaqueId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
GATEWAY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
GatewayId = Annotated[str, StringConstraints(pattern=GATEWAY_ID_PATTERN)]
USER_ID_PATTERN = r"^[a-z][a-z0-9._-]{1,79}$"
UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]

_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
_MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Name = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=_ONE_LINE)]
Address = Annotated[str, StringConstraints(max_length=300, pattern=_ONE_LINE)]
Notes = Annotated[str, StringConstraints(max_length=4000, pattern=_MULTI_LINE)]
Firmware = Annotated[str, StringConstraints(max_length=40, pattern=_ONE_LINE)]
Password = Annotated[str, StringConstraints(min_length=10, max_length=200, pattern=_ONE_LINE)]
# A phone number for SMS: E.164 (+8613800138000) or a local number of digits.
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{5,20}$")]
MacText = Annotated[
    str, StringConstraints(pattern=r"^\s*[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}\s*$")
]
BindKeyText = Annotated[str, StringConstraints(pattern=r"^\s*[0-9A-Fa-f]{32}\s*$")]

# Path parameters, checked before any query runs.
IdPath = Annotated[str, Path(pattern=ID_PATTERN)]
GatewayIdPath = Annotated[str, Path(pattern=GATEWAY_ID_PATTERN)]
UserIdPath = Annotated[str, Path(pattern=USER_ID_PATTERN)]
MacPath = Annotated[str, Path(pattern=r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")]


class SetAsideOut(BaseModel):
    """A part of its config a gateway could not apply (contract.config.SetAside)."""

    section: str = Field(description="bands | residents | sensors | meters | rules | contacts")
    name: str = Field(description="the band's MAC, the resident's or meter's id")
    reason: str


# Alert and task ids are 32-bit serials on PostgreSQL; a larger number is refused before any query.
SerialPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
