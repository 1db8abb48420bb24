"""One-click acknowledge links: signed, expiring, single-use (pure signing and checking).

A link names an alert and the contact it was sent to, and when it stops working:

    <public_url>/ack/v1.<alert id>.<contact id>.<expires, Unix seconds>.<signature>

The signature is HMAC-SHA256 over everything before it, with a key derived from the
fleet's secret key (so every fleet instance that shares ``secret_key`` checks every
other's links), cut to 128 bits to keep SMS short. Nothing is stored when a link is
made; using it stores the SHA-256 of the token (``ack_link_uses``), so it works once.
A forged or altered link and a malformed one are refused alike, without saying which
part is wrong.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fleet.errors import Forbidden

_VERSION = "v1"
_SIGNATURE_BYTES = 16
_TOKEN = re.compile(
    r"^v1\.(?P<alert>[1-9][0-9]{0,9})\.(?P<contact>[a-z][a-z0-9-]{1,39})"
    r"\.(?P<expires>[1-9][0-9]{0,10})\.(?P<sig>[A-Za-z0-9_-]{22})$"
)
MAX_TOKEN_LENGTH = 120


class LinkError(Forbidden):
    """A link that does not acknowledge anything; ``reason`` picks the page shown."""

    reason = "invalid"


class LinkInvalid(LinkError):
    reason = "invalid"


class LinkExpired(LinkError):
    reason = "expired"

    def __init__(self, claim: "LinkClaim") -> None:
        super().__init__("this acknowledge link has expired")
        self.claim = claim


@dataclass(frozen=True, slots=True)
class LinkClaim:
    alert_id: int
    contact_id: str
    expires_at: datetime
    token_hash: str  # what is stored once the link is used


class LinkSigner:
    def __init__(self, key: bytes, ttl: timedelta) -> None:
        if len(key) < 16:
            raise ValueError("the link key must be at least 16 bytes")
        self._key = key
        self.ttl = ttl

    def _signature(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_SIGNATURE_BYTES]).decode().rstrip("=")

    def token(self, alert_id: int, contact_id: str, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        body = f"{_VERSION}.{alert_id}.{contact_id}.{expires}"
        return f"{body}.{self._signature(body)}"

    def check(self, token: str, now: datetime) -> LinkClaim:
        """The claim a genuine, unexpired link makes; LinkError otherwise."""
        match = _TOKEN.match(token) if len(token) <= MAX_TOKEN_LENGTH else None
        if match is None:
            raise LinkInvalid("this is not a valid acknowledge link")
        body = token.rsplit(".", 1)[0]
        if not hmac.compare_digest(self._signature(body), match["sig"]):
            raise LinkInvalid("this is not a valid acknowledge link")
        claim = LinkClaim(
            alert_id=int(match["alert"]),
            contact_id=match["contact"],
            expires_at=datetime.fromtimestamp(int(match["expires"]), UTC),
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
        )
        if claim.alert_id > 2**31 - 1:
            raise LinkInvalid("this is not a valid acknowledge link")
        if now >= claim.expires_at:
            raise LinkExpired(claim)
        return claim
