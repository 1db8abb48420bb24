"""Why the fleet refuses a gateway's message, and how a refusal is counted and told.

Every refusal has a :class:`Cause`. It is counted per gateway and cause (``/health``),
logged at most once per gateway and cause per minute (a gateway sending thousands of
bad readings a second must not flood the log), and turned into a "gateway misbehaving"
notice for staff (fleet.ingest.dead_letters) at most once per gateway, cause and hour.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)


class Cause(StrEnum):
    INVALID = "invalid"  # not the contract: JSON, schema, bounds, size, depth, version
    WRONG_GATEWAY = "wrong_gateway"  # the payload names another gateway than its topic
    UNKNOWN_GATEWAY = "unknown_gateway"  # not in the registry, or revoked
    FLEET_ONLY_KIND = "fleet_only_kind"  # e.g. gateway_offline: only the fleet raises it
    FORGED_ID = "forged_id"  # the event id is not built from its device, kind and key
    NOT_COVERED = "not_covered"  # a device outside the gateway's communities
    UNKNOWN_DEVICE = "unknown_device"  # a device the registry does not know
    FUTURE_TIMESTAMP = "future_timestamp"  # ahead of the fleet's clock beyond tolerance
    STALE_TIMESTAMP = "stale_timestamp"  # older than a gateway keeps messages
    STORE_REFUSED = "store_refused"  # the database refused the values (not an outage)
    INTERNAL_ERROR = "internal_error"  # a bug of ours: parked so that ingest goes on


# What staff read (console, API): what happened and what to do about it.
EXPLANATIONS: dict[Cause, str] = {
    Cause.INVALID: "sent messages that do not follow the MQTT contract (wrong format, "
    "too large, or values out of range); check the gateway's software version",
    Cause.WRONG_GATEWAY: "sent messages that claim to come from another gateway; its "
    "software is broken or its credentials are being misused",
    Cause.UNKNOWN_GATEWAY: "is connected to the broker but is not registered (or is "
    "revoked) in the fleet; register it or disable its broker account",
    Cause.FLEET_ONLY_KIND: "sent alerts of a kind only the fleet raises (gateway "
    "offline/online); its credentials may be misused — consider revoking it",
    Cause.FORGED_ID: "sent events whose id does not match their content; its "
    "credentials may be misused — consider revoking it",
    Cause.NOT_COVERED: "sent events or readings for wristbands outside the communities it "
    "covers; check its communities, or revoke it if it should not hear those residents",
    Cause.UNKNOWN_DEVICE: "sent events for devices the registry does not know; register "
    "the device or check the gateway's configuration",
    Cause.FUTURE_TIMESTAMP: "sent messages dated in the future; its clock is wrong "
    "(check its time synchronisation, NTP)",
    Cause.STALE_TIMESTAMP: "sent messages older than a gateway keeps them; its clock is "
    "wrong or it was offline for a very long time",
    Cause.STORE_REFUSED: "sent values the database refused; check the gateway's software version",
    Cause.INTERNAL_ERROR: "sent a message the fleet failed on (a fault in the fleet, "
    "not the gateway); the message is kept for the developers",
}


class Refused(Exception):
    """A message (or part of one) the fleet will not take; ``str()`` says why."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail


_LOG_EVERY_S = 60.0


class RefusalCounter:
    """Counts refusals per gateway and cause; logs each pair at most once a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.counts: Counter[tuple[str, Cause]] = Counter()
        self._logged_at: dict[tuple[str, Cause], float] = {}
        self._since_log: Counter[tuple[str, Cause]] = Counter()

    def refused(self, gateway: str, cause: Cause, detail: str, n: int = 1) -> None:
        key = (gateway, cause)
        self.counts[key] += n
        self._since_log[key] += n
        now = self._clock()
        last = self._logged_at.get(key)
        if last is not None and now - last < _LOG_EVERY_S:
            return
        self._logged_at[key] = now
        count = self._since_log.pop(key)
        log.warning(
            "ingest: refused %d message(s) or reading(s) from %s (%s) in the last minute: %s",
            count,
            gateway,
            cause.value,
            detail[:300],
        )

    def by_gateway(self) -> dict[str, dict[str, int]]:
        """{gateway: {cause: count}} for /health."""
        out: dict[str, dict[str, int]] = {}
        for (gateway, cause), n in sorted(self.counts.items()):
            out.setdefault(gateway, {})[cause.value] = n
        return out

    def total(self) -> int:
        return sum(self.counts.values())
