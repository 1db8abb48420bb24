"""What a gateway may speak for: the devices in the communities it covers, now.

The broker's ACL ties a gateway to its own topics, so the topic names the sender. Its
payload is the sender's word only: whose band, what happened, when. The fleet takes
it for a device only if the *registry* puts that device in one of the communities the
gateway covers (``gateway_communities`` → ``residents.community_id`` through
``wristbands.resident_id``; a band in stock by ``wristbands.community_id``), never
because the payload says so; it refuses kinds only the fleet raises, event ids not
built from their own device, kind and key, and timestamps outside a window around
the fleet's clock.

Events are rare and each is a database transaction anyway: their coverage is checked
in the transaction that stores them (:func:`check_event_coverage`). Telemetry runs at
thousands of readings a second: it is judged against a :class:`Coverage` snapshot of
the whole registry, reloaded every ``ttl_s``, when the registry changes in this
process (:meth:`CoverageCache.invalidate`), and — at most once per ``miss_refresh_s``
— when a reading would be refused, so a band registered through another fleet
instance a moment ago is not refused for long for a stale snapshot.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from contract import Event, Reading
from contract.messages import FLEET_ONLY_KINDS, ReadingKind
from fleet.db.models import Gateway, GatewayCommunity, Meter, Resident, Wristband
from fleet.ingest.refusals import Cause, Refused

log = logging.getLogger(__name__)


def _band_owners(device: str | None = None) -> Select[str, str | None]:
    """Active bands and the community they are in: their wearer's, or their stock's."""
    query = (
        select(
            func.upper(Wristband.mac),
            func.coalesce(Resident.community_id, Wristband.community_id),
        )
        .outerjoin(Resident, Resident.id == Wristband.resident_id)
        .where(Wristband.state == "active")
    )
    return query if device is None else query.where(Wristband.mac == device.upper())


def _meter_owners(device: str | None = None) -> Select[str, str | None]:
    """Registered meters and their flat's community."""
    query = select(func.upper(Meter.id), Meter.community_id)
    return query if device is None else query.where(func.upper(Meter.id) == device.upper())


# Registered device kinds and where each device's community comes from. A device id
# found here is judged by it whatever kind its reading claims (so a band cannot be
# passed off as a "sensor"). Sensor readings (door contacts, ...) are not registered in
# the fleet: they go to InfluxDB only, raise no alert and end no escalation.
OWNERS: dict[ReadingKind, Callable[[str | None], Select[str, str | None]]] = {
    ReadingKind.WRISTBAND: _band_owners,
    ReadingKind.METER: _meter_owners,
}


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How far a gateway's timestamps may stray from the fleet's clock.

    Ahead: a clock a little fast (NTP not yet synced) is tolerated; beyond that the
    time is wrong or forged, and a far-future time would take over a band's telemetry
    source (fleet/ingest/source.py). Behind: a gateway keeps telemetry in its outbox
    for ``max_telemetry_age_h`` (168 h by default) and events until delivered; older
    than the window is a broken clock or a replay.
    """

    max_future_s: float = 300.0
    event_max_age_s: float = 30 * 86400.0
    telemetry_max_age_s: float = 8 * 86400.0

    def cause(self, ts: float, now: float, max_age_s: float) -> Cause | None:
        if ts > now + self.max_future_s:
            return Cause.FUTURE_TIMESTAMP
        if ts < now - max_age_s:
            return Cause.STALE_TIMESTAMP
        return None


def check_event(event: Event, window: TimeWindow, now: float) -> None:
    """The checks that need no registry: kind, id, timestamps. Raises Refused."""
    if event.kind in FLEET_ONLY_KINDS:
        raise Refused(Cause.FLEET_ONLY_KIND, f"{event.kind.value} is raised by the fleet only")
    if not event.id_matches():
        raise Refused(
            Cause.FORGED_ID,
            f"event id {event.id} is not the id of ({event.device}, {event.kind.value}, "
            f"{event.key!r})",
        )
    for name, ts in (("occurred_at", event.occurred_at), ("detected_at", event.detected_at)):
        cause = window.cause(ts, now, window.event_max_age_s)
        if cause is not None:
            raise Refused(cause, f"event {event.id}: {name} {ts:.0f} is {ts - now:+.0f} s from now")


def covered_communities(session: Session, gateway: str) -> frozenset[str] | None:
    """The communities a gateway covers; None if it is unknown or revoked."""
    row = session.get(Gateway, gateway)
    if row is None or row.state == "revoked":
        return None
    return frozenset(
        session.execute(
            select(GatewayCommunity.community_id).where(GatewayCommunity.gateway_id == gateway)
        ).scalars()
    )


def _event_communities(session: Session, device: str, flat: object) -> list[str | None] | None:
    """The communities the event is about, from the registry; None: an unknown device."""
    for owners in OWNERS.values():
        found = session.execute(owners(device)).first()
        if found is not None:
            return [found[1]]
    if isinstance(flat, str) and flat:
        # A meter's event names its flat; the alert goes to the flat's resident.
        communities = list(
            session.execute(select(Resident.community_id).where(Resident.flat == flat)).scalars()
        )
        if communities:
            return communities
    return None


class CoverageLookups:
    """The registry lookups of one storing transaction, each made once.

    A batch of events holds several copies of each (every gateway in range reports
    it) from a few gateways: asking the registry once per gateway and once per device
    answers them all, and inside one transaction the answer cannot change.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._gateways: dict[str, frozenset[str] | None] = {}
        self._devices: dict[tuple[str, str | None], list[str | None] | None] = {}

    def covered(self, gateway: str) -> frozenset[str] | None:
        if gateway not in self._gateways:
            self._gateways[gateway] = covered_communities(self.session, gateway)
        return self._gateways[gateway]

    def communities(self, event: Event) -> list[str | None] | None:
        flat = event.evidence.get("flat")
        key = (event.device, flat if isinstance(flat, str) else None)
        if key not in self._devices:
            self._devices[key] = _event_communities(self.session, *key)
        return self._devices[key]


def check_event_coverage(
    session: Session, event: Event, lookups: CoverageLookups | None = None
) -> None:
    """Refuse an event about a device outside the sender's communities (in the storing
    transaction, so it sees the registry as the alert will)."""
    lookups = lookups if lookups is not None else CoverageLookups(session)
    covered = lookups.covered(event.gateway)
    if covered is None:
        raise Refused(Cause.UNKNOWN_GATEWAY, f"gateway {event.gateway} is not registered")
    communities = lookups.communities(event)
    if communities is None:
        raise Refused(Cause.UNKNOWN_DEVICE, f"device {event.device} is not registered")
    outside = [c for c in communities if c is None or c not in covered]
    if outside:
        raise Refused(
            Cause.NOT_COVERED,
            f"event {event.id} ({event.kind.value}) for {event.device}: not in a community "
            f"gateway {event.gateway} covers",
        )


@dataclass(frozen=True, slots=True)
class Coverage:
    """A snapshot of who covers what: gateway -> communities, device -> community."""

    gateways: Mapping[str, frozenset[str]] = field(default_factory=dict)
    devices: Mapping[str, str | None] = field(default_factory=dict)
    loaded_at: float = float("-inf")  # monotonic

    def judge(self, gateway: str, reading: Reading, window: TimeWindow, now: float) -> Cause | None:
        """None: keep the reading; otherwise why it is refused."""
        cause = window.cause(reading.ts, now, window.telemetry_max_age_s)
        if cause is not None:
            return cause
        covered = self.gateways.get(gateway)
        if covered is None:
            return Cause.UNKNOWN_GATEWAY
        device = reading.device.upper()
        if device in self.devices:
            community = self.devices[device]
            return None if community is not None and community in covered else Cause.NOT_COVERED
        if reading.kind in OWNERS:
            return Cause.UNKNOWN_DEVICE  # a kind the registry holds, but not this device
        return None


def load_coverage(session: Session, now: float) -> Coverage:
    gateways: dict[str, set[str]] = {
        gid: set()
        for gid in session.execute(select(Gateway.id).where(Gateway.state != "revoked")).scalars()
    }
    for gid, community in session.execute(
        select(GatewayCommunity.gateway_id, GatewayCommunity.community_id)
    ).all():
        if gid in gateways:
            gateways[gid].add(community)
    devices: dict[str, str | None] = {}
    for owners in OWNERS.values():
        for device, where in session.execute(owners(None)):
            devices[device] = where
    return Coverage({g: frozenset(c) for g, c in gateways.items()}, devices, now)


class CoverageCache:
    """The current :class:`Coverage`, reloaded in a worker thread when it is due."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ttl_s: float = 10.0,
        # A reload takes ~170 ms for 100,000 bands (measured, docs/security.md): a
        # gateway sending refused readings non-stop costs at most that every 5 s.
        miss_refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._miss_refresh_s = miss_refresh_s
        self._clock = clock
        self._snapshot = Coverage()
        self._attempted_at = float("-inf")  # the last load, whether it worked or not
        self._lock = asyncio.Lock()
        self._invalid = threading.Event()  # set from the API's worker threads
        self.loads = 0
        self.load_failures = 0

    def invalidate(self) -> None:
        """The registry changed: reload before judging the next batch."""
        self._invalid.set()

    async def current(self) -> Coverage:
        if self._invalid.is_set() or self._clock() - self._attempted_at >= self._ttl_s:
            await self._reload()
        return self._snapshot

    async def after_miss(self) -> Coverage | None:
        """A fresher snapshot after a refusal, or None if the current one is fresh
        enough (at most one reload per ``miss_refresh_s``, whatever a gateway sends)."""
        if self._clock() - self._attempted_at < self._miss_refresh_s:
            return None
        await self._reload()
        return self._snapshot

    async def _reload(self) -> None:
        async with self._lock:
            if not self._invalid.is_set() and self._clock() - self._attempted_at < min(
                self._ttl_s, self._miss_refresh_s
            ):
                return  # another task reloaded it while this one waited
            self._invalid.clear()
            self._attempted_at = self._clock()
            try:
                self._snapshot = await asyncio.to_thread(self._load)
                self.loads += 1
            except Exception:
                # Keep judging with the last snapshot; an empty one refuses everything,
                # which is what an unreadable registry should mean for telemetry.
                self.load_failures += 1
                log.exception("trust: could not load the coverage from the registry")

    def _load(self) -> Coverage:
        with self._sessions() as session:
            return load_coverage(session, self._clock())
