"""What each caller may see: admin everything, staff their town, caregivers their residents.

Each function returns a SQL condition to add to a query, so lists are filtered in the
database and a record outside the caller's scope looks exactly like a missing one (404).
"""

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from fleet.auth import Caller, Role
from fleet.db.models import (
    Alert,
    Caregiver,
    CareLink,
    CareTask,
    Community,
    DispatchTask,
    Gateway,
    GatewayCommunity,
    Grid,
    Meter,
    Resident,
    Town,
    Wristband,
)


def _town_communities(town_id: str | None) -> ColumnElement[bool]:
    return Community.town_id == town_id


def towns(caller: Caller) -> ColumnElement[bool]:
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return Town.id == caller.town_id
    return false()


def communities(caller: Caller) -> ColumnElement[bool]:
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return _town_communities(caller.town_id)
    return false()


def grids(caller: Caller) -> ColumnElement[bool]:
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return Grid.community_id.in_(select(Community.id).where(_town_communities(caller.town_id)))
    return false()


def residents(caller: Caller) -> ColumnElement[bool]:
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return Resident.community_id.in_(
            select(Community.id).where(_town_communities(caller.town_id))
        )
    return Resident.id.in_(
        select(CareLink.resident_id).where(CareLink.caregiver_id == caller.subject)
    )


def caregivers(caller: Caller) -> ColumnElement[bool]:
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        cares_in_town = exists(
            select(CareLink.caregiver_id)
            .join(Resident, Resident.id == CareLink.resident_id)
            .join(Community, Community.id == Resident.community_id)
            .where(CareLink.caregiver_id == Caregiver.id, _town_communities(caller.town_id))
        )
        return or_(Caregiver.town_id == caller.town_id, cares_in_town)
    return Caregiver.id == caller.subject


def wristbands(caller: Caller) -> ColumnElement[bool]:
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return Wristband.community_id.in_(
            select(Community.id).where(_town_communities(caller.town_id))
        )
    return Wristband.resident_id.in_(
        select(CareLink.resident_id).where(CareLink.caregiver_id == caller.subject)
    )


def gateways(caller: Caller) -> ColumnElement[bool]:
    """Staff see a gateway that covers at least one community of their town."""
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return exists(
            select(GatewayCommunity.gateway_id)
            .join(Community, Community.id == GatewayCommunity.community_id)
            .where(
                and_(
                    GatewayCommunity.gateway_id == Gateway.id,
                    _town_communities(caller.town_id),
                )
            )
        )
    return false()


def meters(caller: Caller) -> ColumnElement[bool]:
    """Staff see the meters of their town's flats; caregivers none (hardware, not people)."""
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return Meter.community_id.in_(select(Community.id).where(_town_communities(caller.town_id)))
    return false()


def alerts(caller: Caller) -> ColumnElement[bool]:
    """Admin: all; staff: alerts of their town's communities; caregiver: their residents'."""
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return Alert.community_id.in_(
            select(Community.id).where(Community.town_id == caller.town_id)
        )
    return Alert.resident_id.in_(
        select(CareLink.resident_id).where(CareLink.caregiver_id == caller.subject)
    )


def may_use_community(caller: Caller, community: Community) -> bool:
    """Whether the caller may put people, bands or gateways in this community."""
    return caller.role is Role.ADMIN or (
        caller.role is Role.STAFF and community.town_id == caller.town_id
    )


def may_link_contact(caller: Caller, contact: Caregiver) -> bool:
    """Whether the caller may make this person someone who is called — a resident's
    caregiver, a grid's worker, a community's duty line or policy contact.

    Staff: only people registered by their own town. Seeing someone (a family member
    registered elsewhere who cares for a resident here) is not enough: linking them
    would send that town's residents' alerts, names and addresses to a person the
    other town vouches for, chosen by staff who cannot vouch for them.
    """
    return caller.role is Role.ADMIN or (
        caller.role is Role.STAFF
        and contact.town_id is not None
        and contact.town_id == caller.town_id
    )


def tasks(caller: Caller) -> ColumnElement[bool]:
    """Dispatch tasks: admin all; staff their town's; a contact the tasks they hold."""
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return DispatchTask.community_id.in_(
            select(Community.id).where(_town_communities(caller.town_id))
        )
    return DispatchTask.owner_id == caller.subject


def care_tasks(caller: Caller) -> ColumnElement[bool]:
    """Care tasks (band checks): admin all; staff their town's residents'; a contact the
    ones given to them."""
    if caller.role is Role.ADMIN:
        return true()
    if caller.role is Role.STAFF:
        return CareTask.resident_id.in_(
            select(Resident.id)
            .join(Community, Community.id == Resident.community_id)
            .where(_town_communities(caller.town_id))
        )
    return CareTask.assignee_id == caller.subject
