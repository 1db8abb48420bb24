"""Meters: each flat's water and electricity meters, and the gateway that reads them."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import Field
from sqlalchemy import select

from contract.meters import MeterConfig
from fleet.api import csv_import
from fleet.api.deps import PublisherDep, SessionDep, SessionsDep, StaffDep
from fleet.api.schemas import GatewayId, IdPath, OpaqueId
from fleet.db.models import Meter
from fleet.registry import meter_import, meters, scope

router = APIRouter(prefix="/api/v1/meters", tags=["meters"])


class MeterIn(MeterConfig):
    """The gateway's own declaration of the meter, and where it belongs."""

    gateway_id: GatewayId = Field(description="the gateway whose serial port it is wired to")
    community_id: OpaqueId = Field(description="the community of the flat")


class MeterOut(MeterIn):
    created_at: datetime
    updated_at: datetime | None


def _declaration(body: MeterIn) -> MeterConfig:
    return MeterConfig.model_validate(body.model_dump(exclude={"gateway_id", "community_id"}))


def _out(meter: Meter) -> MeterOut:
    return MeterOut.model_validate(
        {
            **meter.config,
            "gateway_id": meter.gateway_id,
            "community_id": meter.community_id,
            "created_at": meter.created_at,
            "updated_at": meter.updated_at,
        }
    )


@router.post("", response_model=MeterOut, status_code=status.HTTP_201_CREATED)
def create_meter(
    body: MeterIn, session: SessionDep, caller: StaffDep, publisher: PublisherDep
) -> MeterOut:
    meter, bumped = meters.create_meter(
        session,
        caller,
        config=_declaration(body),
        gateway_id=body.gateway_id,
        community_id=body.community_id,
    )
    session.commit()
    if bumped:
        publisher.poke()
    return _out(meter)


_METER_IMPORT = csv_import.Importer(meter_import.check, meter_import.apply, "meter.import")


@router.post(
    "/import",
    response_model=csv_import.CsvReportOut,
    openapi_extra=csv_import.csv_body(
        "id,flat,community_id,gateway_id,protocol,address,port,profile,poll_interval_s,"
        "baud,parity,timeout_s,retries,offline_after_s"
    ),
    responses=csv_import.RESPONSES,
    summary="Register many meters from a CSV file (dry run by default)",
)
async def import_meters(
    *,
    request: Request,
    caller: StaffDep,
    sessions: SessionsDep,
    publisher: PublisherDep,
    dry_run: bool = True,
) -> Any:
    """Check every row as a single registration would be checked (and against the rows
    above it: meters on one port share a bus); with ``dry_run=false`` and no errors,
    register all in one transaction; with any error, none (HTTP 422)."""
    return await csv_import.run_import(
        request,
        caller=caller,
        sessions=sessions,
        importer=_METER_IMPORT,
        dry_run=dry_run,
        poke=publisher.poke,
    )


@router.get("", response_model=list[MeterOut])
def list_meters(
    *,
    session: SessionDep,
    caller: StaffDep,
    community_id: OpaqueId | None = None,
    gateway_id: GatewayId | None = None,
    flat: OpaqueId | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[MeterOut]:
    query = select(Meter).where(scope.meters(caller)).order_by(Meter.id).limit(limit).offset(offset)
    if community_id is not None:
        query = query.where(Meter.community_id == community_id)
    if gateway_id is not None:
        query = query.where(Meter.gateway_id == gateway_id)
    if flat is not None:
        query = query.where(Meter.flat == flat)
    return [_out(m) for m in session.execute(query).scalars()]


@router.get("/{meter_id}", response_model=MeterOut)
def get_meter(meter_id: IdPath, session: SessionDep, caller: StaffDep) -> MeterOut:
    return _out(meters.get_meter(session, caller, meter_id))


@router.put("/{meter_id}", response_model=MeterOut)
def replace_meter(
    meter_id: IdPath, body: MeterIn, session: SessionDep, caller: StaffDep, publisher: PublisherDep
) -> MeterOut:
    if body.id != meter_id:
        raise meters.Invalid(f"id: the body names meter {body.id}, the address {meter_id}")
    meter, bumped = meters.replace_meter(
        session,
        caller,
        config=_declaration(body),
        gateway_id=body.gateway_id,
        community_id=body.community_id,
    )
    session.commit()
    if bumped:
        publisher.poke()
    return _out(meter)


@router.delete("/{meter_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_meter(
    meter_id: IdPath, session: SessionDep, caller: StaffDep, publisher: PublisherDep
) -> None:
    bumped = meters.delete_meter(session, caller, meter_id)
    session.commit()
    if bumped:
        publisher.poke()
