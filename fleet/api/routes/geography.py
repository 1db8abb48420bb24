"""Where people live: towns (sub-districts) → communities (villages) → grids."""

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel
from sqlalchemy import select

from fleet.api.deps import AdminDep, SessionDep, StaffDep
from fleet.api.schemas import IdPath, Name, OpaqueId
from fleet.auth import Caller, Role
from fleet.db.models import Caregiver, Community, Grid, Town
from fleet.db.session import utcnow
from fleet.errors import Conflict, Forbidden, Invalid, NotFound
from fleet.registry import audit, scope
from fleet.registry.bands import visible_community

router = APIRouter(prefix="/api/v1", tags=["places"])


class TownIn(BaseModel):
    id: OpaqueId
    name: Name


class TownOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    model_config = {"from_attributes": True}


class CommunityIn(BaseModel):
    id: OpaqueId
    town_id: OpaqueId
    name: Name


class CommunityOut(BaseModel):
    id: str
    town_id: str
    name: str
    created_at: datetime
    model_config = {"from_attributes": True}


class GridIn(BaseModel):
    id: OpaqueId
    community_id: OpaqueId
    name: Name
    worker_id: OpaqueId | None = None


class GridPatch(BaseModel):
    name: Name | None = None
    worker_id: OpaqueId | None = None


class GridOut(BaseModel):
    id: str
    community_id: str
    name: str
    worker_id: str | None
    created_at: datetime
    model_config = {"from_attributes": True}


@router.post("/towns", response_model=TownOut, status_code=status.HTTP_201_CREATED)
def create_town(body: TownIn, session: SessionDep, caller: AdminDep) -> Town:
    if session.get(Town, body.id) is not None:
        raise Conflict(f"town {body.id} exists")
    town = Town(id=body.id, name=body.name, created_at=utcnow())
    session.add(town)
    audit.record(session, caller, "town.create", body.id)
    session.commit()
    return town


@router.get("/towns", response_model=list[TownOut])
def list_towns(session: SessionDep, caller: StaffDep) -> list[Town]:
    return list(
        session.execute(select(Town).where(scope.towns(caller)).order_by(Town.id)).scalars()
    )


@router.post("/communities", response_model=CommunityOut, status_code=status.HTTP_201_CREATED)
def create_community(body: CommunityIn, session: SessionDep, caller: StaffDep) -> Community:
    if session.get(Town, body.town_id) is None:
        raise Invalid(f"town {body.town_id} does not exist")
    if caller.role is Role.STAFF and body.town_id != caller.town_id:
        raise Forbidden("staff add communities to their own town only")
    if session.get(Community, body.id) is not None:
        raise Conflict(f"community {body.id} exists")
    community = Community(id=body.id, town_id=body.town_id, name=body.name, created_at=utcnow())
    session.add(community)
    audit.record(session, caller, "community.create", body.id, town_id=body.town_id)
    session.commit()
    return community


@router.get("/communities", response_model=list[CommunityOut])
def list_communities(
    session: SessionDep, caller: StaffDep, town_id: OpaqueId | None = None
) -> list[Community]:
    query = select(Community).where(scope.communities(caller)).order_by(Community.id)
    if town_id is not None:
        query = query.where(Community.town_id == town_id)
    return list(session.execute(query).scalars())


@router.get("/communities/{community_id}", response_model=CommunityOut)
def get_community(community_id: IdPath, session: SessionDep, caller: StaffDep) -> Community:
    community = session.execute(
        select(Community).where(Community.id == community_id, scope.communities(caller))
    ).scalar_one_or_none()
    if community is None:
        raise NotFound(f"community {community_id} not found")
    return community


def _check_worker(session: SessionDep, caller: Caller, worker_id: str | None) -> None:
    if worker_id is None:
        return
    worker = session.get(Caregiver, worker_id)
    if worker is None or worker.kind != "grid_worker" or not scope.may_link_contact(caller, worker):
        raise Invalid(
            f"{worker_id} is not a grid worker registered in your town "
            "(a caregiver of kind grid_worker)"
        )


@router.post("/grids", response_model=GridOut, status_code=status.HTTP_201_CREATED)
def create_grid(body: GridIn, session: SessionDep, caller: StaffDep) -> Grid:
    visible_community(session, caller, body.community_id)
    if session.get(Grid, body.id) is not None:
        raise Conflict(f"grid {body.id} exists")
    _check_worker(session, caller, body.worker_id)
    grid = Grid(
        id=body.id,
        community_id=body.community_id,
        name=body.name,
        worker_id=body.worker_id,
        created_at=utcnow(),
    )
    session.add(grid)
    audit.record(session, caller, "grid.create", body.id, community_id=body.community_id)
    session.commit()
    return grid


@router.get("/grids", response_model=list[GridOut])
def list_grids(
    session: SessionDep, caller: StaffDep, community_id: OpaqueId | None = None
) -> list[Grid]:
    query = select(Grid).where(scope.grids(caller)).order_by(Grid.id)
    if community_id is not None:
        query = query.where(Grid.community_id == community_id)
    return list(session.execute(query).scalars())


@router.patch("/grids/{grid_id}", response_model=GridOut)
def update_grid(grid_id: IdPath, body: GridPatch, session: SessionDep, caller: StaffDep) -> Grid:
    grid = session.execute(
        select(Grid).where(Grid.id == grid_id, scope.grids(caller))
    ).scalar_one_or_none()
    if grid is None:
        raise NotFound(f"grid {grid_id} not found")
    changes = body.model_dump(exclude_unset=True)
    if "worker_id" in changes:
        _check_worker(session, caller, body.worker_id)
        grid.worker_id = body.worker_id
    if body.name is not None:
        grid.name = body.name
    audit.record(session, caller, "grid.update", grid.id, fields=sorted(changes))
    session.commit()
    return grid
