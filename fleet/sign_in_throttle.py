"""Slowing password guessing: failed sign-ins counted per account and per address.

Counted in the database (``sign_in_failures``), not in memory: several fleet instances
behind one load balancer must see the same count, and a restart must not reset it.
Past ``per_account`` failures for one user name, or ``per_address`` from one client
address, within ``window``, sign-in answers 429 until the oldest failure leaves the
window — before the password is even checked, so a guess there tells nothing.

The per-account limit lets anyone lock an account for ``window`` by failing on
purpose; that is the price of stopping a guesser who spreads over many addresses,
and the reason the window is short (15 minutes by default). Behind a reverse proxy,
the client address is the proxy's unless uvicorn trusts its forwarded headers
(``--forwarded-allow-ips``, docs/security.md).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from fleet.db.models import SignInFailure


class TooManyFailures(Exception):
    """Sign-in refused for now; ``retry_after_s`` says when to try again."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many failed sign-ins; try again in {retry_after_s // 60 + 1} minutes"
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class SignInThrottle:
    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 30

    def check(self, session: Session, *, username: str, address: str, now: datetime) -> None:
        """Raise TooManyFailures if this account or address has failed too often lately."""
        since = now - self.window
        for column, value, limit in (
            (SignInFailure.username, username[:80], self.per_account),
            (SignInFailure.address, address[:64], self.per_address),
        ):
            count, oldest = session.execute(
                select(func.count(), func.min(SignInFailure.at)).where(
                    column == value, SignInFailure.at > since
                )
            ).one()
            if count >= limit and oldest is not None:
                wait = (oldest + self.window - now).total_seconds()
                raise TooManyFailures(max(1, int(wait) + 1))

    def failed(self, session: Session, *, username: str, address: str, now: datetime) -> None:
        """Record a failure (the caller commits); forget failures older than the window."""
        session.execute(
            delete(SignInFailure).where(
                SignInFailure.at <= now - self.window,
                or_(SignInFailure.username == username[:80], SignInFailure.address == address[:64]),
            )
        )
        session.add(SignInFailure(at=now, username=username[:80], address=address[:64]))
