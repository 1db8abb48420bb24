"""Each message is handled on its own (fleet/ingest/consumer.py ``Ingest.handle``):
whatever it makes the fleet's code raise, the next message is handled — on a real
registry, without a broker (nothing here needs one: acks fail and are counted)."""

import asyncio
import time
from collections.abc import Callable

import pytest

from contract import EventKind, Reading, Severity, TelemetryBatch, Topic, TopicKind, encode
from contract.messages import Event
from fleet.db.models import DeadLetter
from fleet.ingest.consumer import Ingest
from fleet.ingest.dead_letters import DeadLetters
from fleet.ingest.trust import CoverageCache
from fleet.settings import FleetSettings
from tests.fleet.helpers import Api, district

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
    await asyncio.sleep(0)  # let the (failing, unconnected) ack task run
    assert ingest.counts["internal_errors"] == 1
    assert ingest.counts["events"] == 1
    assert ingest.refusals.by_gateway() == {"gw-n": {"internal_error": 1, "invalid": 1}}
    with api.fleet.sessions() as session:
        causes = sorted(row.cause for row in session.query(DeadLetter))
    assert causes == ["internal_error", "invalid"]
