"""People by name: who an actor in a log is, so the console says "王秀英的家属", not
``contact:c-00007``.

Alert logs and alerts keep *actors*: ``role:subject`` strings (``contact:c-1`` for a
caregiver who followed an acknowledge link, ``caregiver:c-1`` for one signed in,
``staff:wang.li`` / ``admin:root`` for users, ``fleet:…`` and ``gateway:…`` for
machines). Names are looked up in the registry at read time, so a renamed person shows
the new name everywhere; an actor with no person behind it keeps no name (the console
then shows it in words by its kind).
"""

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db.models import Caregiver, Community, Grid, Resident, User

_CONTACT_KINDS = ("contact", "caregiver")
_USER_KINDS = ("staff", "admin")


def _split(actor: str) -> tuple[str, str]:
    kind, _, subject = actor.partition(":")
    return kind, subject


def names(session: Session, actors: Iterable[str | None]) -> dict[str, str]:
    """``actor -> display name`` for every actor that is a person in the registry."""
    wanted = {a for a in actors if a}
    contacts = {s for k, s in map(_split, wanted) if k in _CONTACT_KINDS and s}
    users = {s for k, s in map(_split, wanted) if k in _USER_KINDS and s}
    found: dict[tuple[str, str], str] = {}
    if contacts:
        for cid, name in session.execute(
            select(Caregiver.id, Caregiver.display_name).where(Caregiver.id.in_(contacts))
        ):
            found[("contact", cid)] = name
    if users:
        for uid, name in session.execute(
            select(User.id, User.display_name).where(User.id.in_(users))
        ):
            found[("user", uid)] = name or uid
    out: dict[str, str] = {}
    for actor in wanted:
        kind, subject = _split(actor)
        if kind in _CONTACT_KINDS and ("contact", subject) in found:
            out[actor] = found[("contact", subject)]
        elif kind in _USER_KINDS and ("user", subject) in found:
            out[actor] = found[("user", subject)]
    return out


def resident_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(
        select(Resident.id, Resident.display_name).where(Resident.id.in_(wanted))
    )
    return {key: name for key, name in rows}  # noqa: C416 - rows are Row objects


def community_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(select(Community.id, Community.name).where(Community.id.in_(wanted)))
    return {key: name for key, name in rows}  # noqa: C416 - rows are Row objects


def grid_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(select(Grid.id, Grid.name).where(Grid.id.in_(wanted)))
    return {key: name for key, name in rows}  # noqa: C416 - rows are Row objects
