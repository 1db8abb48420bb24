"""What a gateway may speak for (fleet/ingest/trust.py), refusal counting, and the id
collision rule — on the registry (SQLite and PostgreSQL), no broker needed."""

import logging
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from contract import EventKind, Reading, Severity, event_id
from contract.messages import ReadingKind
from fleet.alerts.service import collision_id, record_event
from fleet.db.models import Alert, DeadLetter, EventRecord, GatewayNotice
from fleet.db.session import make_engine, make_sessionmaker
from fleet.ingest.dead_letters import DeadLetters
from fleet.ingest.refusals import EXPLANATIONS, Cause, RefusalCounter, Refused
from fleet.ingest.source import SourceSelector
from fleet.ingest.trust import (
    Coverage,
    TimeWindow,
    check_event,
    check_event_coverage,
    load_coverage,
)
from tests.factories import event
from tests.fleet.helpers import Api, district

NOW = 1_800_000_000.0
BAND_1, BAND_2 = "C2:00:00:00:00:01", "C2:00:00:00:00:02"
KEY = "00112233445566778899aabbccddeeff"


@pytest.fixture
def registry(api: Api) -> sessionmaker[Session]:
    """Town north (c-xingfu, r-1 wearing band 1) and south (c-nanhu, r-2 wearing band 2);
    gw-n covers c-xingfu, gw-s c-nanhu."""
    district(api)
    for mac, resident in ((BAND_1, "r-1"), (BAND_2, "r-2")):
        api.admin.ok(
            "post",
            "/api/v1/wristbands",
            {"mac": mac, "bind_key": KEY, "resident_id": resident},
            201,
        )
    for gateway, community in (("gw-n", "c-xingfu"), ("gw-s", "c-nanhu")):
        api.admin.ok("post", "/api/v1/gateways", {"id": gateway, "communities": [community]}, 201)
    # r-1's flat has an electricity meter on gw-n's bus.
    api.admin.ok("patch", "/api/v1/residents/r-1", {"flat": "f-1"})
    api.admin.ok(
        "post",
        "/api/v1/meters",
        {
            "id": "m-0001-e",
            "flat": "f-1",
            "protocol": "modbus",
            "address": "1",
            "profile": "sdm120",
            "port": "/dev/ttyUSB0",
            "gateway_id": "gw-n",
            "community_id": "c-xingfu",
        },
        201,
    )
    return api.fleet.sessions


def test_the_time_window_refuses_the_future_and_the_very_old():
    window = TimeWindow(max_future_s=300, event_max_age_s=86400, telemetry_max_age_s=3600)
    assert window.cause(NOW + 299, NOW, 3600) is None
    assert window.cause(NOW + 301, NOW, 3600) is Cause.FUTURE_TIMESTAMP
    assert window.cause(NOW - 3601, NOW, 3600) is Cause.STALE_TIMESTAMP


def test_events_a_gateway_may_never_send():
    window = TimeWindow()
    ok = event(device=BAND_1, occurred_at=NOW, detected_at=NOW)
    check_event(ok, window, NOW)
    cases = {
        Cause.FLEET_ONLY_KIND: event(
            kind=EventKind.GATEWAY_OFFLINE, device="gw-s", occurred_at=NOW, detected_at=NOW
        ),
        Cause.FORGED_ID: event(
            device=BAND_1, id=event_id(BAND_2, EventKind.SOS, "1"), occurred_at=NOW, detected_at=NOW
        ),
        Cause.FUTURE_TIMESTAMP: event(device=BAND_1, occurred_at=NOW + 3600, detected_at=NOW),
        Cause.STALE_TIMESTAMP: event(device=BAND_1, occurred_at=NOW - 40 * 86400, detected_at=NOW),
    }
    for cause, bad in cases.items():
        with pytest.raises(Refused) as refused:
            check_event(bad, window, NOW)
        assert refused.value.cause is cause


def test_an_event_is_taken_only_for_a_device_the_gateway_covers(registry: sessionmaker[Session]):
    with registry() as session:
        check_event_coverage(session, event(device=BAND_1, gateway="gw-n"))
        for gateway, device, evidence, cause in (
            ("gw-n", BAND_2, {}, Cause.NOT_COVERED),
            ("gw-x", BAND_1, {}, Cause.UNKNOWN_GATEWAY),
            ("gw-n", "m-0009-w", {}, Cause.UNKNOWN_DEVICE),
        ):
            with pytest.raises(Refused) as refused:
                check_event_coverage(
                    session, event(device=device, gateway=gateway, evidence=evidence)
                )
            assert refused.value.cause is cause


def test_a_meter_event_is_judged_by_its_flats_resident(api: Api, registry: sessionmaker[Session]):
    api.admin.ok("patch", "/api/v1/residents/r-2", {"flat": "f-south"})
    meter = {"device": "m-0002-w", "kind": EventKind.WATER_RUNNING, "severity": Severity.HIGH}
    with registry() as session:
        check_event_coverage(session, event(gateway="gw-s", evidence={"flat": "f-south"}, **meter))
        with pytest.raises(Refused) as refused:
            check_event_coverage(
                session, event(gateway="gw-n", evidence={"flat": "f-south"}, **meter)
            )
    assert refused.value.cause is Cause.NOT_COVERED


def test_readings_are_judged_one_by_one_against_the_snapshot(registry: sessionmaker[Session]):
    with registry() as session:
        coverage = load_coverage(session, 0.0)
    window = TimeWindow()
    now = time.time()

    def judge(gateway: str, device: str, **kw: object) -> Cause | None:
        return coverage.judge(gateway, Reading(device=device, ts=now, **kw), window, now)  # type: ignore[arg-type]

    assert judge("gw-n", BAND_1) is None
    assert judge("gw-n", BAND_1.lower()) is None
    assert judge("gw-n", BAND_2) is Cause.NOT_COVERED
    # A band passed off as another kind of device is still judged as the band.
    assert judge("gw-n", BAND_2, kind=ReadingKind.SENSOR) is Cause.NOT_COVERED
    assert judge("gw-n", "C2:00:00:00:00:99") is Cause.UNKNOWN_DEVICE
    # Meters are judged by their flat's community; flat sensors are not registered.
    assert judge("gw-n", "m-0001-e", kind=ReadingKind.METER) is None
    assert judge("gw-s", "m-0001-e", kind=ReadingKind.METER) is Cause.NOT_COVERED
    assert judge("gw-n", "m-0099-w", kind=ReadingKind.METER) is Cause.UNKNOWN_DEVICE
    assert judge("gw-n", "C2:00:00:00:00:77", kind=ReadingKind.SENSOR) is None
    assert judge("gw-x", BAND_1) is Cause.UNKNOWN_GATEWAY
    late = Reading(device=BAND_1, ts=now + 3600)
    assert coverage.judge("gw-n", late, window, now) is Cause.FUTURE_TIMESTAMP
    assert Coverage().judge("gw-n", Reading(device=BAND_1, ts=now), window, now) is (
        Cause.UNKNOWN_GATEWAY
    )


def test_an_id_taken_by_another_incident_opens_a_new_alert(registry: sessionmaker[Session]):
    now = datetime.now(UTC)
    early = event(device=BAND_1, key="7", occurred_at=NOW - 1200, detected_at=NOW - 1200)
    real = event(device=BAND_1, key="7", occurred_at=NOW, detected_at=NOW)
    copy = event(device=BAND_1, key="7", occurred_at=NOW + 30, detected_at=NOW + 30)  # skew
    with registry.begin() as session:
        first = record_event(session, early, now)
        alert = session.get(Alert, first.alert_id)
        assert alert is not None
        alert.resolved_at, alert.state = now, "resolved"
    with registry.begin() as session:
        second = record_event(session, real, now)
    with registry.begin() as session:
        again = record_event(session, real, now)  # its redelivery
        skewed = record_event(session, copy, now)  # a gateway whose clock is 30 s off
    assert second.id_collision
    assert second.new_alert
    assert second.event_id == collision_id(real, 1) != real.id
    # Its copies — the same, or from a gateway whose clock is a little off — fold in.
    for copy_of_it in (again, skewed):
        assert not copy_of_it.new_event
        assert copy_of_it.alert_id == second.alert_id
    with registry() as session:
        assert session.get(EventRecord, collision_id(real, 1)) is not None
        assert session.get(EventRecord, collision_id(real, 2)) is None


def test_refusals_are_logged_once_a_minute_per_gateway_and_cause(caplog: pytest.LogCaptureFixture):
    clock = [0.0]
    counter = RefusalCounter(clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="fleet.ingest.refusals"):
        for _ in range(1000):
            counter.refused("gw-a", Cause.NOT_COVERED, "band C2:...")
        counter.refused("gw-a", Cause.FORGED_ID, "id ...")
        counter.refused("gw-b", Cause.NOT_COVERED, "band ...")
        clock[0] = 61.0
        counter.refused("gw-a", Cause.NOT_COVERED, "band C2:...")
    assert len(caplog.records) == 4
    # The 999 held back in the first minute are told with the next line.
    assert "refused 1000 message(s)" in caplog.records[-1].getMessage()
    assert counter.by_gateway() == {
        "gw-a": {"forged_id": 1, "not_covered": 1001},
        "gw-b": {"not_covered": 1},
    }
    assert set(EXPLANATIONS) == set(Cause)  # every cause has words for staff


def test_parking_is_budgeted_per_gateway_and_a_notice_made_once_an_hour(
    registry: sessionmaker[Session],
):
    clock = [0.0]
    letters = DeadLetters(registry, budget_per_minute=3, clock=lambda: clock[0])
    assert [letters.may_park("gw-n") for _ in range(4)] == [True, True, True, False]
    assert letters.may_park("gw-s")  # another gateway has its own budget
    clock[0] = 60.0
    assert letters.may_park("gw-n")
    for i in range(3):
        assert letters.park("sg/v1/gw/gw-n/event", "gw-n", b"same", Cause.NOT_COVERED, f"#{i}")
    letters.park("sg/v1/gw/gw-n/event", "gw-n", b"other", Cause.FORGED_ID, "forged")
    with registry() as session:
        rows = session.query(DeadLetter).order_by(DeadLetter.id).all()
        notices = session.query(GatewayNotice).order_by(GatewayNotice.id).all()
    assert [(r.cause, r.times) for r in rows] == [("not_covered", 3), ("forged_id", 1)]
    assert [(n.cause, n.refusals) for n in notices] == [("not_covered", 3), ("forged_id", 1)]
    assert notices[0].message.startswith("Gateway gw-n sent events or readings for wristbands")


def test_source_selection_ignores_readings_from_the_future():
    sources = SourceSelector(max_future_s=300)
    now = 1000.0
    assert sources.accept("band", "gw-b", -70, now, now=now)
    # Dated in 2096 and loud: used to make gw-a the source for ever.
    assert not sources.accept("band", "gw-a", 20, 3_999_999_999.0, now=now)
    assert sources.future_ignored == 1
    assert sources.accept("band", "gw-b", -70, now + 1.5, now=now + 1.5)
    assert sources.source_of("band") == "gw-b"


def test_the_engine_writes_every_commit_through(tmp_path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    assert oct((tmp_path / "r.db").stat().st_mode & 0o777) == "0o600"
    engine.dispose()
    make_sessionmaker(engine)
