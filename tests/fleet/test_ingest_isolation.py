"""Each message is handled on its own (fleet/ingest/consumer.py ``Ingest.handle``):
whatever it makes the fleet's code raise, the next message is handled — on a real
registry, without a broker (nothing here needs one: acks fail and are counted)."""

import time
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
import sqlalchemy

from contract import EventKind, Reading, Severity, TelemetryBatch, Topic, TopicKind, encode
from contract.messages import Event
from fleet.db.models import Alert, DeadLetter, EventRecord
from fleet.ingest.consumer import Ingest
from fleet.ingest.dead_letters import DeadLetters
from fleet.ingest.intake_queue import IntakeQueue
from fleet.ingest.trust import CoverageCache
from fleet.settings import FleetSettings
from tests.fleet.helpers import Api, district
from tests.waiting import until

BAND = "C2:00:00:00:00:01"


@pytest.fixture
def ingest(api: Api, settings: FleetSettings) -> Ingest:
    district(api)
    api.admin.ok(
        "post",
        "/api/v1/wristbands",
        {"mac": BAND, "bind_key": "00112233445566778899aabbccddeeff", "resident_id": "r-1"},
        201,
    )
    api.admin.ok("post", "/api/v1/gateways", {"id": "gw-n", "communities": ["c-xingfu"]}, 201)
    sessions = api.fleet.sessions

    def faulty(batch: TelemetryBatch, stored: Callable[[], None]) -> None:
        raise RuntimeError("a bug in the telemetry path")

    return Ingest(
        settings.mqtt,
        sessions,
        client_id="test",
        on_alert=lambda recorded: None,
        on_telemetry=faulty,
        coverage=CoverageCache(sessions),
        dead_letters=DeadLetters(sessions),
    )


async def test_a_fault_of_ours_is_parked_and_the_next_message_is_handled(ingest: Ingest, api: Api):
    now = time.time()
    readings = TelemetryBatch(
        gateway="gw-n", seq=1, readings=[Reading(device=BAND, ts=now, rssi=-60)]
    )
    sos = Event.incident(
        EventKind.SOS,
        Severity.CRITICAL,
        device=BAND,
        gateway="gw-n",
        key=1,
        occurred_at=now,
        detected_at=now,
    )
    await ingest.handle(str(Topic("gw-n", TopicKind.TELEMETRY)), encode(readings))
    await ingest.handle("sg/v1/gw/gw-n/nonsense", b"{}")
    await ingest.handle(str(Topic("gw-n", TopicKind.EVENT)), encode(sos))
    await until(lambda: ingest.counts["ack_failed"] == 1, what="the unconnected ack to fail")
    assert ingest.counts["internal_errors"] == 1
    assert ingest.counts["events"] == 1
    assert ingest.refusals.by_gateway() == {"gw-n": {"internal_error": 1, "invalid": 1}}
    with api.fleet.sessions() as session:
        causes = sorted(row.cause for row in session.query(DeadLetter))
    assert causes == ["internal_error", "invalid"]


def _event(kind: EventKind, key: int, *, device: str = BAND, **evidence: str) -> Event:
    now = time.time()
    return Event.incident(
        kind,
        Severity.CRITICAL,
        device=device,
        gateway="gw-n",
        key=key,
        occurred_at=now,
        detected_at=now,
        evidence=dict(evidence),
    )


class Acks:
    """Broker acknowledgements handed to the ingest: which messages were let go."""

    def __init__(self) -> None:
        self.done: list[int] = []

    def of(self, n: int) -> Callable[[], None]:
        return lambda: self.done.append(n)


async def test_a_batch_of_events_ends_as_each_message_would_on_its_own(ingest: Ingest, api: Api):
    sos = _event(EventKind.SOS, 1)
    forged = msgspec.structs.replace(_event(EventKind.SOS, 2), id=sos.id[:-4] + "beef")
    stranger = _event(EventKind.FALL, 3, device="C2:00:00:00:00:99")  # not registered
    topic = str(Topic("gw-n", TopicKind.EVENT))
    acks = Acks()
    batch = [
        (topic, encode(sos), acks.of(0)),
        (topic, encode(sos), acks.of(1)),  # a second gateway's copy, in the same batch
        (topic, encode(forged), acks.of(2)),
        (topic, b"{not json", acks.of(3)),
        (topic, encode(stranger), acks.of(4)),
    ]
    await ingest.handle_events(batch)
    assert sorted(acks.done) == [0, 1, 2, 3, 4]  # every message let go by the broker
    assert ingest.counts["event_batches"] == 1
    assert (ingest.counts["events"], ingest.counts["events_duplicate"]) == (2, 1)
    with api.fleet.sessions() as session:
        causes = sorted(row.cause for row in session.query(DeadLetter))
        alerts = session.query(Alert).all()
    assert causes == ["forged_id", "invalid", "unknown_device"]
    assert [(a.kind, a.device) for a in alerts] == [("sos", BAND)]


async def test_copies_in_one_batch_are_each_judged_by_their_own_gateway(ingest: Ingest, api: Api):
    # The batch stores an event once and answers its copies from that; but a copy
    # from a gateway that does not cover the band is still refused, and an id reused
    # days later is still another incident.
    api.admin.ok("post", "/api/v1/gateways", {"id": "gw-s", "communities": ["c-nanhu"]}, 201)
    sos = _event(EventKind.SOS, 7)
    other = msgspec.structs.replace(sos, gateway="gw-s")
    later = msgspec.structs.replace(
        sos, occurred_at=sos.occurred_at + 3 * 86400, detected_at=sos.detected_at + 3 * 86400
    )
    acks = Acks()
    north, south = str(Topic("gw-n", TopicKind.EVENT)), str(Topic("gw-s", TopicKind.EVENT))
    ingest._clock = lambda: sos.occurred_at + 3 * 86400  # the later copy is not in the future
    await ingest.handle_events(
        [
            (north, encode(sos), acks.of(0)),
            (south, encode(other), acks.of(1)),
            (north, encode(sos), acks.of(2)),
            (north, encode(later), acks.of(3)),
        ]
    )
    assert sorted(acks.done) == [0, 1, 2, 3]
    assert ingest.refusals.by_gateway() == {"gw-s": {"not_covered": 1}}
    assert (ingest.counts["events"], ingest.counts["events_duplicate"]) == (3, 1)
    assert ingest.counts["id_collisions"] == 1
    with api.fleet.sessions() as session:
        stored = session.query(EventRecord).filter(EventRecord.kind == "sos").count()
    assert stored == 2  # the SOS, and the later incident under a derived id


async def test_copies_in_one_batch_cost_no_further_registry_queries(ingest: Ingest, api: Api):
    # Every gateway in range reports an event: at the district's morning dose window a
    # batch is mostly copies. They are answered from the first, and each gateway's and
    # each band's coverage is looked up once per batch.
    for g in ("gw-n2", "gw-n3"):
        api.admin.ok("post", "/api/v1/gateways", {"id": g, "communities": ["c-xingfu"]}, 201)
    taken = [_event(EventKind.MEDICATION_TAKEN, k) for k in range(10)]
    statements: list[str] = []
    engine = api.fleet.sessions.kw["bind"]
    listener = lambda *args: statements.append(args[2])  # noqa: E731

    async def queries(gateways: tuple[str, ...], start: int) -> int:
        statements.clear()
        batch = [
            (str(Topic(g, TopicKind.EVENT)), encode(msgspec.structs.replace(e, gateway=g)), None)
            for e in taken[start : start + 5]
            for g in gateways
        ]
        sqlalchemy.event.listen(engine, "before_cursor_execute", listener)
        try:
            await ingest.handle_events(batch)
        finally:
            sqlalchemy.event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    alone = await queries(("gw-n",), 0)
    with_copies = await queries(("gw-n", "gw-n2", "gw-n3"), 5)
    assert ingest.counts["events_duplicate"] == 10
    # Two more gateways' coverage (two lookups each); their 10 copies cost nothing.
    assert with_copies <= alone + 4


class BatchBug(Ingest):
    """Our own batch path failing (a bug, as the faulty telemetry callback above is):
    the fall-back must still store each message."""

    def _store_events(self, events: list[Event]) -> list[Any]:
        raise RuntimeError("a bug in the batch path")


async def test_a_batch_that_fails_is_handled_message_by_message(
    ingest: Ingest, api: Api, settings: FleetSettings
):
    sessions = api.fleet.sessions
    buggy = BatchBug(
        settings.mqtt,
        sessions,
        client_id="test",
        on_alert=lambda recorded: None,
        on_telemetry=lambda batch, stored: stored(),
        coverage=CoverageCache(sessions),
        dead_letters=DeadLetters(sessions),
    )
    sos, fall = _event(EventKind.SOS, 1), _event(EventKind.FALL, 2)
    topic = str(Topic("gw-n", TopicKind.EVENT))
    acks = Acks()
    await buggy.handle_events([(topic, encode(sos), acks.of(0)), (topic, encode(fall), acks.of(1))])
    assert buggy.counts["event_batches_split"] == 1
    assert buggy.counts["events"] == 2
    assert sorted(acks.done) == [0, 1]
    with sessions() as session:
        stored = sorted(row.id for row in session.query(EventRecord))
    assert stored == sorted([sos.id, fall.id])


def _presses(n: int) -> list[Event]:
    """A morning's "taken" presses of one band, as a gateway sends them."""
    return [
        msgspec.structs.replace(_event(EventKind.MEDICATION_TAKEN, k), severity=Severity.LOW)
        for k in range(n)
    ]


async def test_an_sos_behind_a_burst_of_dose_presses_is_stored_in_the_next_batch(
    ingest: Ingest, api: Api
):
    # A morning's "taken" presses queue faster than a busy fleet stores them; an SOS
    # that comes in behind them must not wait for the whole burst.
    topic = str(Topic("gw-n", TopicKind.EVENT))
    taken = _presses(300)
    sos = _event(EventKind.SOS, 1000)
    queue: IntakeQueue[Any] = IntakeQueue()
    acks = Acks()
    for n, event in enumerate([*taken, sos]):
        ingest.enqueue(queue, topic, encode(event), acks.of(n))
    ingest.enqueue(queue, topic, b"{not json", acks.of(301))  # refused in its turn

    assert await ingest.store_next_batch(queue) == 200
    with api.fleet.sessions() as session:
        alerts = [(a.kind, a.event_id) for a in session.query(Alert)]
        stored = session.query(EventRecord).count()
    assert alerts == [("sos", sos.id)]
    assert stored == 200  # the SOS and the 199 presses that came first

    # Nothing is dropped: the rest of the burst, and the junk, in the order they came.
    assert await ingest.store_next_batch(queue) == 102
    assert sorted(acks.done) == list(range(302))
    with api.fleet.sessions() as session:
        assert session.query(EventRecord).count() == 301
        causes = [row.cause for row in session.query(DeadLetter)]
    assert causes == ["invalid"]


async def test_a_cancel_queued_before_its_fall_stays_before_it(ingest: Ingest, api: Api):
    # One gateway heard the resident cancel; another missed the press and raised the
    # fall when its window closed. Stored in the order they came, the fall is a
    # near-miss for the digest — putting alerts first must not put it before the cancel.
    topic = str(Topic("gw-n", TopicKind.EVENT))
    queue: IntakeQueue[Any] = IntakeQueue()
    taken = _presses(250)
    cancel = msgspec.structs.replace(_event(EventKind.FALL_CANCELLED, 7), severity=Severity.LOW)
    fall = _event(EventKind.FALL, 7)
    for event in [*taken, cancel, fall]:
        ingest.enqueue(queue, topic, encode(event), None)
    await ingest.store_next_batch(queue)
    with api.fleet.sessions() as session:
        alerts = session.query(Alert).count()
        stored = session.get(EventRecord, fall.id)
        assert stored is not None
        disposition = stored.disposition
    assert (alerts, disposition) == (0, "digest")


async def test_a_flood_of_urgent_looking_junk_does_not_stop_routine_events(
    ingest: Ingest, api: Api
):
    # A gateway (its own credentials, its own topic) sends "SOS"-headed junk faster
    # than the fleet refuses it: the others' routine events — a "taken" resolves a
    # missed-dose alert — still get a share of every batch.
    topic = str(Topic("gw-n", TopicKind.EVENT))
    queue: IntakeQueue[Any] = IntakeQueue()
    for _ in range(400):
        ingest.enqueue(queue, topic, b'{"kind": "sos", "severity": "critical"}', None)
    (taken,) = _presses(1)
    ingest.enqueue(queue, topic, encode(taken), None)
    assert await ingest.store_next_batch(queue) == 200
    with api.fleet.sessions() as session:
        assert session.get(EventRecord, taken.id) is not None
