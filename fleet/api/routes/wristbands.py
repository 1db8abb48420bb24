"""Wristbands: register one, import many from CSV, assign, retire.

A bind key is accepted once, stored encrypted, and never returned; it leaves the
fleet only sealed to the gateways that cover the wearer's community.
"""

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from contract.ids import normalise_mac, parse_bind_key
from fleet.api.deps import CallerDep, PublisherDep, SessionDep, SessionsDep, StaffDep, VaultDep
from fleet.api.paging import ListQueryDep, contains, csv_response, page_rows
from fleet.api.schemas import BindKeyText, Firmware, MacPath, MacText, OpaqueId
from fleet.auth import Caller
from fleet.db.models import Resident, Wristband
from fleet.db.session import utcnow
from fleet.errors import Invalid, TooLarge
from fleet.redaction import redact
from fleet.registry import audit, band_import, bands, config_push, scope
from fleet.registry.vault import Vault

router = APIRouter(prefix="/api/v1/wristbands", tags=["wristbands"])


# Cheap bands sample at 12.5-25 Hz to save battery (contract.config.BandConfig).
SampleRate = Annotated[float, Field(ge=12.5, le=200)]


class WristbandIn(BaseModel):
    mac: MacText
    bind_key: BindKeyText = Field(description="32 hexadecimal characters; never shown again")
    resident_id: OpaqueId | None = None
    community_id: OpaqueId | None = Field(
        None, description="where the band is kept; default: the resident's community"
    )
    firmware: Firmware = ""
    sample_rate_hz: SampleRate | None = Field(
        None, description="the band model's accelerometer rate; leave empty for 40 Hz or more"
    )


class WristbandPatch(BaseModel):
    firmware: Firmware | None = None
    sample_rate_hz: SampleRate | None = None


class AssignIn(BaseModel):
    resident_id: OpaqueId | None = Field(description="the new wearer; null takes it back to stock")


class WristbandOut(BaseModel):
    mac: str
    resident_id: str | None
    community_id: str | None
    firmware: str
    sample_rate_hz: float | None
    state: str
    created_at: datetime
    updated_at: datetime | None
    retired_at: datetime | None
    resident_name: str | None = Field(None, description="the wearer's name (lists only)")
    model_config = {"from_attributes": True}


class RowErrorOut(BaseModel):
    row: int = Field(description="spreadsheet row; the header is row 1")
    column: str
    mac: str
    message: str


class ImportReportOut(BaseModel):
    dry_run: bool
    rows: int
    valid_rows: int
    error_rows: int
    errors: list[RowErrorOut]
    applied: bool
    created: int


def _mac(text: str) -> str:
    try:
        return normalise_mac(text)
    except ValueError as exc:
        raise Invalid(f"mac: {exc}") from None


@router.post("", response_model=WristbandOut, status_code=status.HTTP_201_CREATED)
def register_wristband(
    body: WristbandIn,
    session: SessionDep,
    caller: StaffDep,
    publisher: PublisherDep,
    vault: VaultDep,
) -> Wristband:
    try:
        key = parse_bind_key(body.bind_key)
    except ValueError as exc:
        raise Invalid(f"bind_key: {exc}") from None
    band, bumped = bands.register(
        session,
        caller,
        vault,
        mac=_mac(body.mac),
        key=key,
        community_id=body.community_id,
        resident_id=body.resident_id,
        firmware=body.firmware,
        sample_rate_hz=body.sample_rate_hz,
        now=utcnow(),
    )
    audit.record(
        session,
        caller,
        "wristband.register",
        band.mac,
        resident_id=band.resident_id,
        community_id=band.community_id,
    )
    session.commit()
    if bumped:
        publisher.poke()
    return band


BAND_SORTS = {
    "mac": (Wristband.mac,),
    "resident": (Resident.display_name, Wristband.mac),
    "community": (Wristband.community_id, Wristband.mac),
    "state": (Wristband.state, Wristband.mac),
    "firmware": (Wristband.firmware, Wristband.mac),
    "registered": (Wristband.created_at, Wristband.mac),
}
BAND_CSV = ("mac", "resident_id", "resident", "community_id", "firmware", "state", "registered")


@router.get("", response_model=list[WristbandOut])
def list_wristbands(
    *,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    params: ListQueryDep,
    community_id: OpaqueId | None = None,
    grid_id: OpaqueId | None = None,
    state: Annotated[str | None, Query(pattern="^(active|retired)$")] = None,
) -> list[WristbandOut] | Response:
    """Bands the caller may see, paged (``X-Total-Count``); ``q`` searches the MAC and
    the wearer's name and id; ``format=csv`` exports the list."""
    query = (
        select(Wristband, Resident.display_name)
        .outerjoin(Resident, Resident.id == Wristband.resident_id)
        .where(scope.wristbands(caller))
    )
    if community_id is not None:
        query = query.where(Wristband.community_id == community_id)
    if grid_id is not None:
        query = query.where(Resident.grid_id == grid_id)
    if state is not None:
        query = query.where(Wristband.state == state)
    if (like := params.like()) is not None:
        query = query.where(
            or_(
                contains(Wristband.mac, like),
                contains(Resident.display_name, like),
                contains(Resident.id, like),
            )
        )
    rows = page_rows(
        session,
        query,
        params,
        response,
        sorts=BAND_SORTS,
        default_sort="mac",
        default_limit=10_000,
    )
    out = [
        WristbandOut.model_validate(band).model_copy(update={"resident_name": name})
        for band, name in rows
    ]
    if not params.csv:
        return out
    audit.record(session, caller, "wristbands.export", "wristbands", rows=len(out))
    session.commit()
    return csv_response(
        "wristbands.csv",
        BAND_CSV,
        (
            (
                b.mac,
                b.resident_id,
                b.resident_name,
                b.community_id,
                b.firmware,
                b.state,
                b.created_at.isoformat(),
            )
            for b in out
        ),
    )


@router.get("/{mac}", response_model=WristbandOut)
def get_wristband(mac: MacPath, session: SessionDep, caller: CallerDep) -> Wristband:
    return bands.get_band(session, caller, _mac(mac))


@router.patch("/{mac}", response_model=WristbandOut)
def update_wristband(
    mac: MacPath,
    body: WristbandPatch,
    session: SessionDep,
    caller: StaffDep,
    publisher: PublisherDep,
) -> Wristband:
    band = bands.get_band(session, caller, _mac(mac))
    changes = body.model_dump(exclude_unset=True)
    if body.firmware is not None:
        band.firmware = body.firmware
    bumped: set[str] = set()
    if "sample_rate_hz" in changes:
        band.sample_rate_hz = body.sample_rate_hz
        if band.resident_id is not None:  # the gateways judge its falls by its rate
            bumped = config_push.bump_communities(session, [band.community_id])
    band.updated_at = utcnow()
    audit.record(session, caller, "wristband.update", band.mac, fields=sorted(changes))
    session.commit()
    if bumped:
        publisher.poke()
    return band


@router.post("/{mac}/assign", response_model=WristbandOut)
def assign_wristband(
    mac: MacPath, body: AssignIn, session: SessionDep, caller: StaffDep, publisher: PublisherDep
) -> Wristband:
    band = bands.get_band(session, caller, _mac(mac))
    previous = band.resident_id
    bumped = bands.assign(session, caller, band, body.resident_id, utcnow())
    audit.record(
        session,
        caller,
        "wristband.assign",
        band.mac,
        previous=previous,
        resident_id=body.resident_id,
    )
    session.commit()
    if bumped:
        publisher.poke()
    return band


@router.post("/{mac}/retire", response_model=WristbandOut)
def retire_wristband(
    mac: MacPath, session: SessionDep, caller: StaffDep, publisher: PublisherDep
) -> Wristband:
    band = bands.get_band(session, caller, _mac(mac))
    bumped = bands.retire(session, band, utcnow())
    audit.record(session, caller, "wristband.retire", band.mac, resident_id=band.resident_id)
    session.commit()
    if bumped:
        publisher.poke()
    return band


def _import(
    sessions: sessionmaker[Session],
    caller: Caller,
    vault: Vault,
    data: bytes,
    dry_run: bool,
) -> tuple[ImportReportOut, set[str]]:
    report = band_import.parse(data)
    with sessions() as session:
        band_import.check_registry(session, caller, report)
        created, bumped = 0, set[str]()
        applied = not dry_run and not report.errors
        if applied:
            # One transaction: every row or none.
            created, bumped = band_import.apply(session, report, vault, utcnow())
            audit.record(session, caller, "wristband.import", f"{created} bands", rows=report.rows)
            session.commit()
    out = ImportReportOut(
        dry_run=dry_run,
        rows=report.rows,
        valid_rows=report.rows - report.bad_rows,
        error_rows=report.bad_rows,
        # A key pasted into the MAC (or any) column must not come back in the report.
        errors=[
            RowErrorOut(row=e.row, column=e.column, mac=redact(e.mac), message=redact(e.message))
            for e in report.errors
        ],
        applied=applied,
        created=created,
    )
    return out, bumped


_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the CSV file itself (header: mac,bind_key,community_id,resident_id,firmware)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.post(
    "/import",
    response_model=ImportReportOut,
    openapi_extra=_CSV_BODY,
    responses={422: {"model": ImportReportOut, "description": "errors found; nothing applied"}},
    summary="Register many wristbands from a CSV file (dry run by default)",
)
async def import_wristbands(
    *,
    request: Request,
    caller: StaffDep,
    sessions: SessionsDep,
    publisher: PublisherDep,
    vault: VaultDep,
    dry_run: bool = True,
) -> Any:
    """Check every row and report every problem. With ``dry_run=false`` and no errors,
    register all rows in one transaction; with any error, register none (HTTP 422)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > band_import.MAX_BYTES:
            raise TooLarge(f"the file is larger than {band_import.MAX_BYTES // (1024 * 1024)} MB")
    report, bumped = await asyncio.to_thread(_import, sessions, caller, vault, bytes(data), dry_run)
    if bumped:
        publisher.poke()
    if not dry_run and report.errors:
        return JSONResponse(report.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return report
