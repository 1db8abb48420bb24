"""The notifier against a real database and a real HTTP receiver (apprise json://):
messages in the contact's language, digests, cancelled jobs, movement noted."""

import asyncio
import contextlib
import logging
import time as wall_clock
from collections.abc import AsyncIterator, Iterator
from datetime import time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contract import EventKind, Reading, Severity
from contract.clock import ScaledClock
from fleet import clock
from fleet.alerts import digest, service
from fleet.alerts.ack_link import LinkSigner
from fleet.alerts.activity import ActivityWatch
from fleet.db.models import Alert, Caregiver, Delivery, EscalationTimer
from fleet.db.session import make_engine, make_sessionmaker, utcnow
from fleet.notify import (
    sender,  # installs the filter
    templates,
)
from fleet.notify.dispatcher import Dispatcher
from silverguard.sim.receiver import Receiver
from tests.fleet.alerting_seed import T0, band_event, seed
from tests.waiting import eventually, until


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@contextlib.asynccontextmanager
async def dispatching(sessions: sessionmaker[Session]) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher(
        sessions,
        instance="t",
        public_url="https://fleet.example.org",
        links=LinkSigner(b"k" * 32, timedelta(hours=24)),
        retry_s=0.2,
    )
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_messages_say_who_what_where_when_and_how_to_acknowledge():
    opened = T0  # 10:00 Beijing time
    zh = templates.render(
        locale="zh-CN",
        kind="fall",
        resident_name="王秀英",
        address="3号楼201",
        community="幸福社区",
        opened_at=opened,
        ack_url="https://f/ack/x",
        escalated=True,
        role="grid_worker",
        follow_ups=(templates.FollowUp("fall_cancelled", opened + timedelta(seconds=40)),),
    )
    assert zh.title == "【银护警报·升级】王秀英：跌倒"
    assert "幸福社区 3号楼201" in zh.body
    assert "2026-05-04 10:00:00" in zh.body
    assert "网格员" in zh.body
    assert "10:00:40 跌倒报警已被本人取消" in zh.body
    assert zh.body.endswith("确认接单：https://f/ack/x")
    en = templates.render(
        locale="en",
        kind="sos",
        resident_name="Wang",
        address="",
        opened_at=opened,
        ack_url="https://f/ack/y",
    )
    assert en.title == "[Silverguard] Wang: SOS call"
    assert "no address on file" in en.body
    assert en.body.endswith("Acknowledge: https://f/ack/y")


async def test_each_channel_gets_the_message_in_the_contacts_language(sessions, receiver):
    with sessions.begin() as session:
        s = seed(session, channels={"cg-1": [receiver.url("sms"), receiver.url("wecom")]})
        session.get_one(Caregiver, "cg-1").locale = "en"
    with sessions.begin() as session:
        service.record_event(session, band_event(s.bands["r-1"]), utcnow())
    async with dispatching(sessions) as dispatcher:
        dispatcher.wake.set()
        sent = await asyncio.to_thread(receiver.wait_for, 2, timeout=10)

        # The provider has it; the dispatcher records the send just after its answer.
        async def notified() -> Alert | None:
            with sessions() as session:
                alert = session.execute(select(Alert)).scalar_one()
                return alert if alert.state == "notified" else None

        alert = await eventually(notified, 10, "the alert marked notified", interval=0.05)
    assert {r.path for r in sent} == {"/sms", "/wecom"}
    assert all(r.body["title"] == "[Silverguard] 居民1: fall" for r in sent)
    assert "https://fleet.example.org/ack/v1.1.cg-1." in sent[0].body["message"]
    assert alert.notified_at is not None


async def test_jobs_of_an_acknowledged_alert_are_cancelled_not_sent(sessions, receiver):
    with sessions.begin() as session:
        s = seed(session, channels={"cg-1": [receiver.url("sms")]})
    with sessions.begin() as session:
        recorded = service.record_event(session, band_event(s.bands["r-1"]), utcnow())
        service.acknowledge(session, recorded.alert_id, "staff:w", utcnow())
    async with dispatching(sessions) as dispatcher:
        dispatcher.wake.set()
        await until(lambda: dispatcher.cancelled, 30, "the offer cancelled")
    assert dispatcher.cancelled == 1
    # No offer with an acknowledge link reaches cg-1; only, perhaps already, the news
    # that the grid worker holds the task now (fleet.dispatch).
    assert all("/ack/" not in r.body["message"] for r in receiver.delivered())
    with sessions() as session:
        offer = select(Delivery.status).where(Delivery.alert_id.is_not(None))
        assert session.execute(offer).scalar_one() == "cancelled"


async def test_a_slow_provider_under_a_fast_clock_gets_each_message_once(sessions):
    # The district runs the fleet's clock at 300x; a send still takes network time. The
    # claim's lease is real time: were it 60 product seconds (0.2 s here), the next
    # claim pass would send the message again while the first answer is on its way.
    slow = Receiver(answer_after_s=1.5).start()
    previous = clock.current()
    clock.install(ScaledClock(wall_clock.time(), wall_clock.time(), 300.0))
    try:
        with sessions.begin() as session:
            s = seed(session, channels={"cg-1": [slow.url("sms")]})
        with sessions.begin() as session:
            service.record_event(session, band_event(s.bands["r-1"]), utcnow())
        async with dispatching(sessions) as dispatcher:
            dispatcher.wake.set()
            await until(lambda: dispatcher.sent, 30, "the send recorded")
        with sessions() as session:
            offer = session.execute(select(Delivery).where(Delivery.alert_id.is_not(None)))
            delivery = offer.scalar_one()
        assert (delivery.status, delivery.attempts) == ("sent", 1)
        assert [r.path for r in slow.delivered()] == ["/sms"]
    finally:
        clock.install(previous)
        slow.stop()


async def test_the_digest_lists_the_days_notices_in_one_message(sessions, receiver):
    with sessions.begin() as session:
        s = seed(session, channels={"cg-1": [receiver.url("digest")]})
    band = s.bands["r-1"]
    for key, kind in ((1, EventKind.LOW_BATTERY), (2, EventKind.NOT_WORN)):
        with sessions.begin() as session:
            service.record_event(
                session, band_event(band, kind, key=key, severity=Severity.MEDIUM), T0
            )
    with sessions.begin() as session:
        assert digest.make_due(session, T0 + timedelta(hours=23, minutes=5), time(9)) == 1
    async with dispatching(sessions) as dispatcher:
        dispatcher.wake.set()
        (message,) = await asyncio.to_thread(receiver.wait_for, 1, timeout=10)
    assert message.body["title"] == "【银护日报】2026-05-05 共 2 条提醒"
    assert "居民1：手环电量低" in message.body["message"]
    assert "居民1：手环未佩戴" in message.body["message"]


async def test_movement_seen_in_telemetry_stops_an_inactivity_escalation(sessions):
    with sessions.begin() as session:
        s = seed(session)
    band = s.bands["r-1"]
    with sessions.begin() as session:
        recorded = service.record_event(
            session, band_event(band, EventKind.INACTIVITY, severity=Severity.HIGH), T0
        )
    watch = ActivityWatch(sessions, instance="t", clock=lambda: T0 + timedelta(minutes=3))
    await asyncio.to_thread(watch.refresh)
    assert watch.watched() == {band: recorded.alert_id}
    # Still, then moving: only the movement counts.
    watch.on_readings([Reading(device=band, ts=0.0, fields={"moving": False})])
    watch.on_readings([Reading(device=band, ts=0.0, fields={"moving": True})])
    await until(lambda: watch.resumed, 10, "the escalation ended by the movement")
    assert watch.resumed == 1
    with sessions() as session:
        alert = session.get_one(Alert, recorded.alert_id)
        assert alert.activity_resumed_at == T0 + timedelta(minutes=3)
        assert alert.state == "open"
        pending = session.execute(
            select(EscalationTimer).where(EscalationTimer.status == "pending")
        ).all()
        assert pending == []
    await asyncio.to_thread(watch.refresh)
    assert watch.watched() == {}


def test_apprise_log_lines_never_carry_a_channel_address(caplog):

    apprise_log = logging.getLogger("apprise")
    with caplog.at_level(logging.WARNING, logger="apprise"):
        apprise_log.warning("Failed to send to %s.", "https://ntfy.example.org/secret-topic")
        apprise_log.error("Invalid phone number %s for %s", "+86 139 1234 5678", "li@example.org")
        apprise_log.error("Unsupported URL: %s", "wecombot://0123abcd")
        apprise_log.info("Sent ntfy notification to 'https://ntfy.sh/secret-topic'.")
    text = caplog.text
    for secret in ("secret-topic", "139 1234", "li@example.org", "0123abcd"):
        assert secret not in text
    assert "Failed to send to <url>" in text
    assert "Invalid phone number <number> for <address>" in text
    assert sender.validate_channel is not None
