"""Signed, expiring, single-use links for a task's owner (pure signing and checking).

The acknowledge link's scheme (fleet.alerts.ack_link), for a task, a person and one
action:

    <public_url>/task/t1.<task id>.<contact id>.<action>.<expires, Unix seconds>.<signature>

* ``checkin`` — "I'm on my way" (as often as wanted) and "I'm here" (uses the link);
* ``outcome`` — the outcome form (uses the link);
* ``decline`` — "I can't go" (uses the link).

HMAC-SHA256 with a key of its own (derived from the fleet's secret key under another
name than the acknowledge links', so neither kind of link can pass for the other),
cut to 128 bits. Using a link stores the SHA-256 of the token (``task_link_uses``).
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from fleet.alerts.ack_link import LinkInvalid

_SIGNATURE_BYTES = 16
_TOKEN = re.compile(
    r"^t1\.(?P<task>[1-9][0-9]{0,9})\.(?P<contact>[a-z][a-z0-9-]{1,39})"
    r"\.(?P<action>checkin|outcome|decline)"
    r"\.(?P<expires>[1-9][0-9]{0,10})\.(?P<sig>[A-Za-z0-9_-]{22})$"
)
MAX_TOKEN_LENGTH = 130


class TaskAction(StrEnum):
    CHECK_IN = "checkin"
    OUTCOME = "outcome"
    DECLINE = "decline"


class TaskLinkExpired(LinkInvalid):
    reason = "expired"

    def __init__(self, claim: "TaskClaim") -> None:
        super().__init__("this task link has expired")
        self.claim = claim


@dataclass(frozen=True, slots=True)
class TaskClaim:
    task_id: int
    contact_id: str
    action: TaskAction
    expires_at: datetime
    token_hash: str


class TaskLinkSigner:
    def __init__(self, key: bytes, ttl: timedelta) -> None:
        if len(key) < 16:
            raise ValueError("the link key must be at least 16 bytes")
        self._key = key
        self.ttl = ttl

    def _signature(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_SIGNATURE_BYTES]).decode().rstrip("=")

    def token(self, task_id: int, contact_id: str, action: TaskAction, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        body = f"t1.{task_id}.{contact_id}.{action.value}.{expires}"
        return f"{body}.{self._signature(body)}"

    def check(self, token: str, now: datetime) -> TaskClaim:
        """The claim of a genuine, unexpired link; LinkInvalid / TaskLinkExpired otherwise."""
        match = _TOKEN.match(token) if len(token) <= MAX_TOKEN_LENGTH else None
        if match is None:
            raise LinkInvalid("this is not a valid task link")
        body = token.rsplit(".", 1)[0]
        if not hmac.compare_digest(self._signature(body), match["sig"]):
            raise LinkInvalid("this is not a valid task link")
        claim = TaskClaim(
            task_id=int(match["task"]),
            contact_id=match["contact"],
            action=TaskAction(match["action"]),
            expires_at=datetime.fromtimestamp(int(match["expires"]), UTC),
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
        )
        if claim.task_id > 2**31 - 1:
            raise LinkInvalid("this is not a valid task link")
        if now >= claim.expires_at:
            raise TaskLinkExpired(claim)
        return claim
