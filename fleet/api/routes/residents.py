"""Residents: who lives where, their care plan, and who is called for them.

Caregivers see only the residents they care for; anyone else's id answers 404.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, selectinload

from contract.careplan import CarePlan
from fleet.api import csv_import
from fleet.api.deps import CallerDep, PublisherDep, SessionDep, SessionsDep, StaffDep
from fleet.api.paging import ListQueryDep, contains, csv_response, page_rows
from fleet.api.schemas import Address, IdPath, Name, Notes, OpaqueId, Phone
from fleet.auth import Caller
from fleet.db.models import Caregiver, CareLink, Grid, Resident, Wristband
from fleet.db.session import utcnow
from fleet.errors import Conflict, Invalid, NotFound
from fleet.registry import audit, careplans, config_push, people, resident_import, scope
from fleet.registry.bands import visible_community
from fleet.registry.careplans import MedicationLabels

router = APIRouter(prefix="/api/v1/residents", tags=["residents"])

BirthYear = Annotated[int, Field(ge=1900, le=2100)]
Condition = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[\w -]+$")]
Conditions = Annotated[list[Condition], Field(max_length=20)]


class ResidentIn(BaseModel):
    id: OpaqueId
    display_name: Name
    address: Address = ""
    community_id: OpaqueId
    grid_id: OpaqueId | None = None
    lives_alone: bool = True
    health_notes: Notes = ""
    flat: OpaqueId | None = Field(None, description="opaque flat id linking meters to the band")
    phone: Phone | None = Field(
        None, description="the resident's own phone (the phone page's call button)"
    )
    key_holder: Address = Field("", description="who holds a key to the flat (name, where)")
    key_holder_phone: Phone | None = None
    birth_year: BirthYear | None = None
    conditions: Conditions = Field(
        default_factory=list, description="conditions the health center noted (risk tags)"
    )
    care_plan: CarePlan = Field(
        CarePlan(), description="what the gateway's rules need; the same type the gateway applies"
    )
    medication_labels: MedicationLabels = Field(
        default_factory=dict, description="dose id -> what to take; never sent to a gateway"
    )
    caregivers: list[OpaqueId] = Field(
        default_factory=list, max_length=10, description="caregiver ids, first called first"
    )


class ResidentPatch(BaseModel):
    display_name: Name | None = None
    address: Address | None = None
    community_id: OpaqueId | None = None
    grid_id: OpaqueId | None = None
    lives_alone: bool | None = None
    health_notes: Notes | None = None
    flat: OpaqueId | None = None
    phone: Phone | None = None
    key_holder: Address | None = None
    key_holder_phone: Phone | None = None
    birth_year: BirthYear | None = None
    conditions: Conditions | None = None
    care_plan: CarePlan | None = None
    medication_labels: MedicationLabels | None = None
    caregivers: list[OpaqueId] | None = Field(None, max_length=10)


class CareLinkOut(BaseModel):
    caregiver_id: str
    priority: int


class ResidentOut(BaseModel):
    id: str
    display_name: str
    address: str
    community_id: str | None
    grid_id: str | None
    lives_alone: bool
    health_notes: str
    flat: str | None
    phone: str | None = None
    key_holder: str = ""
    key_holder_phone: str | None = None
    birth_year: int | None = None
    conditions: list[str] = Field(default_factory=list)
    care_plan: CarePlan
    medication_labels: dict[str, str]
    caregivers: list[CareLinkOut]
    wristband: str | None = Field(description="MAC of the band the resident wears")
    created_at: datetime
    updated_at: datetime | None


_UNKNOWN = object()


def _out(session: Session, resident: Resident, band: object = _UNKNOWN) -> ResidentOut:
    if band is _UNKNOWN:
        band = session.execute(
            select(Wristband.mac).where(
                Wristband.resident_id == resident.id, Wristband.state == "active"
            )
        ).scalar_one_or_none()
    return ResidentOut(
        id=resident.id,
        display_name=resident.display_name,
        address=resident.address,
        community_id=resident.community_id,
        grid_id=resident.grid_id,
        lives_alone=resident.lives_alone,
        health_notes=resident.health_notes,
        flat=resident.flat,
        phone=resident.phone,
        key_holder=resident.key_holder or "",
        key_holder_phone=resident.key_holder_phone,
        birth_year=resident.birth_year,
        conditions=list(resident.conditions or []),
        care_plan=careplans.load(resident.id, resident.settings),
        medication_labels=dict(resident.medication_labels or {}),
        caregivers=[
            CareLinkOut(caregiver_id=link.caregiver_id, priority=link.priority)
            for link in resident.caregivers
        ],
        wristband=band if isinstance(band, str) else None,
        created_at=resident.created_at,
        updated_at=resident.updated_at,
    )


def _get(session: Session, caller: Caller, resident_id: str) -> Resident:
    resident = session.execute(
        select(Resident)
        .where(Resident.id == resident_id, scope.residents(caller))
        .options(selectinload(Resident.caregivers))
    ).scalar_one_or_none()
    if resident is None:
        raise NotFound(f"resident {resident_id} not found")
    return resident


def _check_caregivers(session: Session, caller: Caller, ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(ids))
    for caregiver_id in unique:
        caregiver = session.get(Caregiver, caregiver_id)
        if caregiver is None or not scope.may_link_contact(caller, caregiver):
            raise Invalid(f"caregiver {caregiver_id} does not exist or is outside your town")
    return unique


def _check_grid(session: Session, grid_id: str | None, community_id: str | None) -> None:
    if grid_id is None:
        return
    grid = session.get(Grid, grid_id)
    if grid is None or grid.community_id != community_id:
        raise Invalid(f"grid {grid_id} is not a grid of community {community_id}")


def _set_caregivers(session: Session, resident: Resident, ids: list[str]) -> None:
    session.execute(delete(CareLink).where(CareLink.resident_id == resident.id))
    session.add_all(
        CareLink(resident_id=resident.id, caregiver_id=cid, priority=priority)
        for priority, cid in enumerate(ids, start=1)
    )
    session.flush()
    session.expire(resident, ["caregivers"])


@router.post("", response_model=ResidentOut, status_code=status.HTTP_201_CREATED)
def create_resident(
    body: ResidentIn, session: SessionDep, caller: StaffDep, publisher: PublisherDep
) -> ResidentOut:
    if session.get(Resident, body.id) is not None:
        raise Conflict(f"resident {body.id} exists")
    visible_community(session, caller, body.community_id)
    _check_grid(session, body.grid_id, body.community_id)
    caregiver_ids = _check_caregivers(session, caller, body.caregivers)
    resident = Resident(
        id=body.id,
        display_name=body.display_name,
        address=body.address,
        community_id=body.community_id,
        grid_id=body.grid_id,
        lives_alone=body.lives_alone,
        health_notes=body.health_notes,
        flat=body.flat,
        phone=body.phone,
        key_holder=body.key_holder,
        key_holder_phone=body.key_holder_phone,
        birth_year=body.birth_year,
        conditions=body.conditions,
        settings=careplans.stored(body.care_plan),
        medication_labels=careplans.check_labels(body.care_plan, body.medication_labels),
        created_at=utcnow(),
    )
    session.add(resident)
    session.flush()
    _set_caregivers(session, resident, caregiver_ids)
    bumped = config_push.bump_communities(session, [body.community_id])
    audit.record(session, caller, "resident.create", body.id, community_id=body.community_id)
    session.commit()
    if bumped:
        publisher.poke()
    return _out(session, resident)


_RESIDENT_IMPORT = csv_import.Importer(
    resident_import.check, resident_import.apply, "resident.import"
)


@router.post(
    "/import",
    response_model=csv_import.CsvReportOut,
    openapi_extra=csv_import.csv_body(
        "id,display_name,community_id,address,grid_id,lives_alone,flat,health_notes,"
        "active_hours,inactivity_s,doses,dose_labels,fall_sensitivity,caregivers"
    ),
    responses=csv_import.RESPONSES,
    summary="Register many residents, care plans included, from a CSV file (dry run by default)",
)
async def import_residents(
    *,
    request: Request,
    caller: StaffDep,
    sessions: SessionsDep,
    publisher: PublisherDep,
    dry_run: bool = True,
) -> Any:
    """Check every row and report every problem by row and column. With
    ``dry_run=false`` and no errors, register all rows in one transaction; with any
    error, register none (HTTP 422)."""
    return await csv_import.run_import(
        request,
        caller=caller,
        sessions=sessions,
        importer=_RESIDENT_IMPORT,
        dry_run=dry_run,
        poke=publisher.poke,
    )


RESIDENT_SORTS = {
    "id": (Resident.id,),
    "name": (Resident.display_name, Resident.id),
    "community": (Resident.community_id, Resident.id),
    "grid": (Resident.grid_id, Resident.id),
    "address": (Resident.address, Resident.id),
}
RESIDENT_CSV = ("id", "name", "community", "grid", "address", "flat", "wristband", "caregivers")


@router.get("", response_model=list[ResidentOut])
def list_residents(
    *,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    params: ListQueryDep,
    community_id: OpaqueId | None = None,
    grid_id: OpaqueId | None = None,
) -> list[ResidentOut] | Response:
    """Residents the caller may see, paged (``X-Total-Count``: how many match);
    ``q`` searches name, id and address; ``format=csv`` exports the list."""
    query = (
        select(Resident).where(scope.residents(caller)).options(selectinload(Resident.caregivers))
    )
    if community_id is not None:
        query = query.where(Resident.community_id == community_id)
    if grid_id is not None:
        query = query.where(Resident.grid_id == grid_id)
    if (like := params.like()) is not None:
        query = query.where(
            or_(
                contains(Resident.display_name, like),
                contains(Resident.id, like),
                contains(Resident.address, like),
            )
        )
    rows = page_rows(
        session,
        query,
        params,
        response,
        sorts=RESIDENT_SORTS,
        default_sort="id",
        default_limit=1000,
    )
    # One query for the page's bands, not one per resident.
    # A Result has keys(), so dict(result) would read it as a mapping: pair them here.
    bands: dict[str | None, str] = {  # noqa: C416
        resident_id: mac
        for resident_id, mac in session.execute(
            select(Wristband.resident_id, Wristband.mac).where(
                Wristband.resident_id.in_([r.id for r in rows]), Wristband.state == "active"
            )
        )
    }
    out = [_out(session, r, bands.get(r.id)) for r in rows]
    if not params.csv:
        return out
    names = people.names(
        session, [f"caregiver:{c.caregiver_id}" for r in out for c in r.caregivers]
    )
    audit.record(session, caller, "residents.export", "residents", rows=len(out))
    session.commit()
    return csv_response(
        "residents.csv",
        RESIDENT_CSV,
        (
            (
                r.id,
                r.display_name,
                r.community_id,
                r.grid_id,
                r.address,
                r.flat,
                r.wristband,
                "; ".join(
                    names.get(f"caregiver:{c.caregiver_id}", c.caregiver_id) for c in r.caregivers
                ),
            )
            for r in out
        ),
    )


@router.get("/{resident_id}", response_model=ResidentOut)
def get_resident(resident_id: IdPath, session: SessionDep, caller: CallerDep) -> ResidentOut:
    return _out(session, _get(session, caller, resident_id))


@router.patch("/{resident_id}", response_model=ResidentOut)
def update_resident(
    resident_id: IdPath,
    body: ResidentPatch,
    session: SessionDep,
    caller: StaffDep,
    publisher: PublisherDep,
) -> ResidentOut:
    resident = _get(session, caller, resident_id)
    changes = body.model_dump(exclude_unset=True)
    before = resident.community_id
    community_id = body.community_id if body.community_id is not None else before
    if body.community_id is not None and body.community_id != before:
        visible_community(session, caller, body.community_id)
    grid_id = changes.get("grid_id", resident.grid_id)
    if body.community_id is not None and body.community_id != before and "grid_id" not in changes:
        grid_id = None  # the old grid belongs to the old community
    _check_grid(session, grid_id, community_id)
    for name in ("display_name", "address", "health_notes", "key_holder"):
        value = changes.get(name)
        if value is not None:
            setattr(resident, name, value)
    if body.conditions is not None:
        resident.conditions = body.conditions
    for name in ("phone", "key_holder_phone", "birth_year"):  # null clears it
        if name in changes:
            setattr(resident, name, changes[name])
    if body.lives_alone is not None:
        resident.lives_alone = body.lives_alone
    if "flat" in changes:
        resident.flat = body.flat
    if body.care_plan is not None or body.medication_labels is not None:
        plan = body.care_plan or careplans.load(resident.id, resident.settings)
        labels = body.medication_labels
        if labels is None:  # keep the labels of doses that are still in the plan
            doses = {dose.id for dose in plan.medication}
            labels = {k: v for k, v in (resident.medication_labels or {}).items() if k in doses}
        resident.medication_labels = careplans.check_labels(plan, labels)
        resident.settings = careplans.stored(plan)
    if body.caregivers is not None:
        _set_caregivers(session, resident, _check_caregivers(session, caller, body.caregivers))
    resident.community_id = community_id
    resident.grid_id = grid_id
    resident.updated_at = utcnow()
    if community_id != before:
        # The band moves with its wearer: its key leaves the old community's gateways.
        session.execute(
            update(Wristband)
            .where(Wristband.resident_id == resident.id, Wristband.state == "active")
            .values(community_id=community_id, updated_at=utcnow())
        )
    affects_gateways = {"community_id", "flat", "care_plan", "caregivers"} & changes.keys()
    bumped = (
        config_push.bump_communities(session, [before, community_id]) if affects_gateways else set()
    )
    audit.record(session, caller, "resident.update", resident.id, fields=sorted(changes))
    session.commit()
    if bumped:
        publisher.poke()
    return _out(session, resident)
