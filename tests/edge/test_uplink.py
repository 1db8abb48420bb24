"""The uplink against a real Mosquitto over TLS: delivery, refusals, config, acks."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from contract import (
    EventAck,
    GatewayStatus,
    Health,
    Topic,
    TopicKind,
    decode,
    encode,
    event_id,
)
from contract.config import ConfigReport
from edge.outbox import Outbox
from edge.settings import MqttSettings
from edge.uplink.mqtt import PublishRefused, Uplink, _Client
from silverguard.servers.mosquitto import Credentials, MosquittoServer
from silverguard.servers.tls import write_server_tls
from tests.waiting import until


@dataclass
class Broker:
    server: MosquittoServer
    gateway: Credentials
    fleet: Credentials

    def gateway_settings(self, **overrides: object) -> MqttSettings:
        assert self.server.tls_port is not None
        assert self.server.tls_files is not None
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.server.tls_port,
            "username": self.gateway.username,
            "password": self.gateway.password,
            "ca_file": self.server.tls_files.ca_file,
            "backoff_min_s": 0.2,
            "backoff_max_s": 1.0,
        }
        values.update(overrides)
        return MqttSettings.model_validate(values)

    def fleet_client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.server.host,
            self.server.port,
            username=self.fleet.username,
            password=self.fleet.password,
            identifier=self.fleet.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
        )


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto"), tls=True).start()
    try:
        yield Broker(server, server.add_gateway("gw-01"), server.add_fleet())
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def running(uplink: Uplink) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(uplink.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_gateway_reaches_the_broker_over_tls_verified_with_the_fleets_ca(
    broker: Broker, tmp_path: Path
):
    outbox = Outbox(tmp_path / "o.db")
    uplink = Uplink(broker.gateway_settings(), "gw-01", outbox, heartbeat_s=0.2)
    async with broker.fleet_client() as fleet:
        await fleet.subscribe(str(Topic("gw-01", TopicKind.STATUS)), qos=1)
        await fleet.subscribe(str(Topic("gw-01", TopicKind.HEALTH)), qos=0)
        async with running(uplink):
            await asyncio.wait_for(uplink.connected.wait(), 15)
            seen: dict[str, bytes] = {}
            async with asyncio.timeout(15):
                async for message in fleet.messages:
                    seen[str(message.topic).rsplit("/", 1)[1]] = message.payload  # type: ignore[assignment]
                    if {"status", "health"} <= seen.keys():
                        break
    assert decode(seen["status"], GatewayStatus).state == "online"
    health = decode(seen["health"], Health)
    assert "uplink_reconnects" in health.figures
    assert uplink.state.state == "connected"


# paho leaves the socket of a failed TLS handshake for the garbage collector to close.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_broker_the_ca_does_not_vouch_for_is_refused(broker: Broker, tmp_path: Path):
    other_ca = tmp_path / "other-ca.crt"

    other_ca.write_bytes(write_server_tls(tmp_path / "other").ca_file.read_bytes())
    uplink = Uplink(broker.gateway_settings(ca_file=other_ca), "gw-01", Outbox(tmp_path / "o.db"))
    async with running(uplink):
        await until(lambda: uplink.state.reconnects >= 2)
    assert not uplink.connected.is_set()
    assert "CERTIFICATE_VERIFY_FAILED" in uplink.state.last_error


async def test_plain_aiomqtt_takes_a_refused_publish_for_delivery_ours_does_not(broker: Broker):
    # Why _Client exists: Mosquitto answers a publish outside the gateway's ACL with
    # PUBACK 135 (not authorized), and aiomqtt's publish() returns as if delivered.
    forbidden = str(Topic("gw-02", TopicKind.TELEMETRY))
    settings = broker.gateway_settings()
    async with _Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password.get_secret_value(),
        identifier="gw-01",  # the only client id the gateway's account may use
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_params=aiomqtt.TLSParameters(ca_certs=str(settings.ca_file)),
    ) as client:
        await client.publish(forbidden, b"{}", qos=1)  # no error: the refusal is lost
        with pytest.raises(PublishRefused) as refused:
            await client.publish_checked(forbidden, b"{}", qos=1)
        assert refused.value.reason.value == 135
        await client.publish_checked(str(Topic("gw-01", TopicKind.TELEMETRY)), b"{}", qos=1)


async def test_refused_telemetry_stays_in_the_outbox(broker: Broker, tmp_path: Path):
    outbox = Outbox(tmp_path / "o.db")
    # Queued under another gateway's topic (say, before the box was re-enrolled).
    outbox.put_telemetry(str(Topic("gw-02", TopicKind.TELEMETRY)), b'{"v": 1}')
    uplink = Uplink(broker.gateway_settings(), "gw-01", outbox)
    async with running(uplink):
        await until(lambda: uplink.state.publish_refused >= 1)
    assert outbox.depth()["telemetry"] == 1
    assert "135" in uplink.state.last_error


async def test_telemetry_leaves_on_puback_and_events_only_on_the_fleets_ack(
    broker: Broker, tmp_path: Path
):
    outbox = Outbox(tmp_path / "o.db")
    event_topic = str(Topic("gw-01", TopicKind.EVENT))
    ids = [event_id("C2:00:00:00:00:01", "sos", i) for i in range(3)]
    for i in range(3):
        outbox.put_event(ids[i], event_topic, b'{"n": %d}' % i)
    outbox.put_telemetry(str(Topic("gw-01", TopicKind.TELEMETRY)), b'{"v": 1}')
    uplink = Uplink(broker.gateway_settings(), "gw-01", outbox, resend_after_s=0.3)
    async with broker.fleet_client() as fleet:
        await fleet.subscribe(event_topic, qos=1)
        async with running(uplink):
            await until(lambda: outbox.depth()["telemetry"] == 0)
            copies = 0
            async with asyncio.timeout(15):
                async for _message in fleet.messages:
                    copies += 1
                    if copies >= 6:  # every event at least twice: not acknowledged yet
                        break
            assert outbox.depth()["event"] == 3
            ack = EventAck(ids=ids)
            await fleet.publish(str(Topic("gw-01", TopicKind.EVENT_ACK)), encode(ack), qos=1)
            await until(lambda: outbox.depth()["event"] == 0)
    assert uplink.state.acks_received == 3


async def test_a_config_message_is_handed_over_and_the_report_published(
    broker: Broker, tmp_path: Path
):
    received: list[bytes] = []

    def on_config(payload: bytes) -> ConfigReport:
        received.append(payload)
        return ConfigReport(gateway="gw-01", version=7, ok=True)

    uplink = Uplink(
        broker.gateway_settings(), "gw-01", Outbox(tmp_path / "o.db"), on_config=on_config
    )
    async with broker.fleet_client() as fleet:
        await fleet.subscribe(str(Topic("gw-01", TopicKind.CONFIG_REPORTED)), qos=1)
        await fleet.publish(str(Topic("gw-01", TopicKind.CONFIG)), b'{"x": 1}', qos=1, retain=True)
        try:
            async with running(uplink):
                async with asyncio.timeout(15):
                    async for message in fleet.messages:
                        report = decode(message.payload, ConfigReport)  # type: ignore[arg-type]
                        break
        finally:
            await fleet.publish(str(Topic("gw-01", TopicKind.CONFIG)), b"", qos=1, retain=True)
    assert received == [b'{"x": 1}']
    assert report.version == 7


async def test_the_uplink_stops_when_cancelled_even_as_it_is_woken(broker: Broker, tmp_path: Path):
    # A shutdown (SIGTERM) cancels the uplink; an ack waking it at that very moment
    # must not swallow the cancellation (asyncio.wait_for does on Python 3.11).
    uplink = Uplink(broker.gateway_settings(), "gw-01", Outbox(tmp_path / "o.db"))
    for _ in range(20):
        task = asyncio.create_task(uplink.run())
        await asyncio.wait_for(uplink.connected.wait(), 15)
        await until(lambda: uplink.idle, what="the sender in its wait")
        uplink.wake.set()
        task.cancel()
        async with asyncio.timeout(5):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        uplink.connected.clear()
