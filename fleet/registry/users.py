"""Accounts: who signs in, with which role, for which town. One way to make one, for
the API (an admin), the command line (``silverguard fleet token``) and the tests."""

from sqlalchemy.orm import Session

from fleet import auth
from fleet.auth import Role
from fleet.db.models import Caregiver, Town, User
from fleet.db.session import utcnow
from fleet.errors import Conflict, Invalid


def check_role(session: Session, *, role: str, user_id: str, town_id: str | None) -> None:
    """A role's own requirements: staff serve a town, a caregiver is a registered one."""
    if role == Role.STAFF and not town_id:
        raise Invalid("staff accounts need the town they serve (town_id)")
    if town_id is not None and session.get(Town, town_id) is None:
        raise Invalid(f"town {town_id} does not exist")
    if role == Role.CAREGIVER and session.get(Caregiver, user_id) is None:
        raise Invalid(f"a caregiver account's id must be a registered caregiver ({user_id} is not)")


def create_user(
    session: Session,
    *,
    user_id: str,
    role: Role,
    town_id: str | None = None,
    display_name: str = "",
    password: str | None = None,
    check: bool = True,
) -> User:
    """A new active account (Conflict if the id is taken). ``check=False`` only for
    tests and bootstrapping that make an account before its town or caregiver exists."""
    if session.get(User, user_id) is not None:
        raise Conflict(f"user {user_id} exists")
    if check:
        check_role(session, role=role.value, user_id=user_id, town_id=town_id)
    user = User(
        id=user_id,
        role=role.value,
        display_name=display_name,
        town_id=town_id,
        password_hash=auth.hash_password(password) if password else None,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user
