"""The audit log: every change through the API, with who, what and when.

``detail`` names what changed (field names, ids, counts), never secret values: no bind
keys, passwords, channel URLs or phone numbers.
"""

from typing import Any

from sqlalchemy.orm import Session

from fleet.auth import Caller
from fleet.db.models import AuditEntry
from fleet.db.session import utcnow


def record(session: Session, actor: Caller | str, action: str, target: str, **detail: Any) -> None:
    who = actor.actor if isinstance(actor, Caller) else actor
    session.add(
        AuditEntry(at=utcnow(), actor=who[:80], action=action, target=target[:120], detail=detail)
    )
