"""Consuming the gateways' messages — the only fleet module that speaks MQTT for ingest.

Subscribes through an MQTT 5 shared subscription (``$share/<group>/...``) so several
fleet instances split the load. Every payload is validated; an invalid one is counted
and parked in ``dead_letters``, and the consumer goes on. An event is acknowledged to
its gateway (``event/ack``) only after it is committed to the registry.
"""

import asyncio
import hashlib
import logging
import random
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from contract import (
    Event,
    EventAck,
    GatewayStatus,
    Health,
    TelemetryBatch,
    Topic,
    TopicKind,
    WireError,
    decode,
    encode,
    transport,
)
from contract.config import ConfigReport
from contract.topics import TopicError, parse_topic, subscription
from fleet.alerts.service import Recorded, record_event
from fleet.db.models import DeadLetter
from fleet.db.session import utcnow
from fleet.db.upsert import insert_ignore
from fleet.settings import FleetMqttSettings

log = logging.getLogger(__name__)

_SESSION_EXPIRY_S = 3600
_BACKOFF_MAX_S = 30.0

OnAlert = Callable[[Recorded], None]
OnTelemetry = Callable[[TelemetryBatch], None]
OnGatewayMessage = Callable[[str, GatewayStatus | Health], Awaitable[None] | None]
OnConfigReport = Callable[[ConfigReport], Awaitable[None] | None]


_T = TypeVar("_T")


def default_client_id() -> str:
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname().lower())
    return f"fleet-{host}"[:60]


class Ingest:
    def __init__(
        self,
        settings: FleetMqttSettings,
        sessions: sessionmaker[Session],
        *,
        on_alert: OnAlert,
        on_telemetry: OnTelemetry,
        on_gateway: OnGatewayMessage | None = None,
        on_config_report: OnConfigReport | None = None,
        telemetry_shared: bool = True,
        instance: str = "fleet",
    ) -> None:
        self._settings = settings
        self._instance = instance
        self._sessions = sessions
        self._on_alert = on_alert
        self._on_telemetry = on_telemetry
        self._on_gateway = on_gateway
        self._on_config_report = on_config_report
        # Partitioned instances each need every telemetry batch (see source.Partition).
        self._telemetry_shared = telemetry_shared
        self.counts: Counter[str] = Counter()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._acks: set[asyncio.Task[None]] = set()

    def _make_client(self) -> aiomqtt.Client:
        s = self._settings
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = _SESSION_EXPIRY_S
        return transport.Client(
            s.host,
            s.port,
            username=s.username or None,
            password=s.password.get_secret_value() or None,
            identifier=s.client_id or default_client_id(),
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
            tls_params=aiomqtt.TLSParameters(ca_certs=str(s.ca_file)) if s.ca_file else None,
            timeout=10,
        )

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish on the ingest connection (acks, configs, commands)."""
        if self._client is None:
            raise aiomqtt.MqttError("not connected to the broker")
        await self._client.publish(topic, payload, qos=1, retain=retain)

    async def run(self) -> None:
        backoff = 0.5
        group = self._settings.share_group
        while True:
            try:
                async with self._make_client() as client:
                    self._client = client
                    for kind in (TopicKind.EVENT, TopicKind.HEALTH, TopicKind.CONFIG_REPORTED):
                        await client.subscribe(f"$share/{group}/{subscription(kind)}", qos=1)
                    telemetry = subscription(TopicKind.TELEMETRY)
                    if self._telemetry_shared:
                        telemetry = f"$share/{group}/{telemetry}"
                    await client.subscribe(telemetry, qos=1)
                    # Retained status: every instance wants it, so not shared.
                    await client.subscribe(subscription(TopicKind.STATUS), qos=1)
                    self.connected.set()
                    backoff = 0.5
                    log.info("ingest: subscribed as group %r", group)
                    async for message in client.messages:
                        await self._handle(str(message.topic), bytes(message.payload))  # type: ignore[arg-type]
            except aiomqtt.MqttError as exc:
                log.warning("ingest: broker connection lost or refused: %s", exc)
            finally:
                self._client = None
                self.connected.clear()
                for task in list(self._acks):  # their connection is gone
                    task.cancel()
            delay = backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311
            backoff = min(backoff * 2, _BACKOFF_MAX_S)
            await asyncio.sleep(delay)

    async def _handle(self, topic_name: str, payload: bytes) -> None:
        try:
            topic = parse_topic(topic_name)
            if topic.kind is TopicKind.EVENT:
                await self._handle_event(topic, payload)
            elif topic.kind is TopicKind.TELEMETRY:
                batch = decode(payload, TelemetryBatch)
                self._check_gateway(topic, batch.gateway)
                self.counts["telemetry_batches"] += 1
                self._on_telemetry(batch)
            elif topic.kind in (TopicKind.STATUS, TopicKind.HEALTH):
                message: GatewayStatus | Health = (
                    decode(payload, GatewayStatus)
                    if topic.kind is TopicKind.STATUS
                    else decode(payload, Health)
                )
                self._check_gateway(topic, message.gateway)
                self.counts[topic.kind.value] += 1
                if self._on_gateway is not None:
                    result = self._on_gateway(topic.gateway_id, message)
                    if result is not None:
                        await result
            elif topic.kind is TopicKind.CONFIG_REPORTED:
                report = decode(payload, ConfigReport)
                self._check_gateway(topic, report.gateway)
                self.counts["config_reports"] += 1
                if self._on_config_report is not None:
                    outcome = self._on_config_report(report)
                    if outcome is not None:
                        await outcome
        except SQLAlchemyError:
            # Not acknowledged: the gateway keeps the event and sends it again.
            self.counts["store_failed"] += 1
            log.exception("ingest: registry unavailable; message on %s not stored", topic_name)
        except (WireError, TopicError) as exc:
            self.counts["invalid"] += 1
            log.warning("ingest: invalid message on %s parked: %s", topic_name, exc)
            await asyncio.to_thread(self._park, topic_name, payload, str(exc))

    def _check_gateway(self, topic: Topic, claimed: str) -> None:
        # The broker's ACL ties a gateway to its own topics; the payload must agree.
        if claimed != topic.gateway_id:
            raise WireError(f"payload names gateway {claimed!r} on {topic.gateway_id!r}'s topic")

    async def _handle_event(self, topic: Topic, payload: bytes) -> None:
        event = decode(payload, Event)
        self._check_gateway(topic, event.gateway)
        recorded = await asyncio.to_thread(self._store_event, event)
        self.counts["events"] += 1
        if not recorded.new_event:
            self.counts["events_duplicate"] += 1
        if recorded.deliveries:
            # Committed: the notifier may send at once, before the ack round trip.
            self._on_alert(recorded)
        if recorded.new_event and recorded.alert_id is not None:
            log.info(
                "ingest: %s event %s %s alert %s",
                event.kind,
                event.id,
                recorded.disposition,
                recorded.alert_id,
            )
        # The ack is published without waiting for the broker's PUBACK before the next
        # message is handled: a lost ack only makes the gateway send the event again,
        # which the event id makes harmless.
        ack = EventAck(ids=[event.id])
        self._spawn(self.publish(str(Topic(topic.gateway_id, TopicKind.EVENT_ACK)), encode(ack)))

    def _spawn(self, publishing: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(publishing)
        self._acks.add(task)
        task.add_done_callback(self._ack_done)

    def _ack_done(self, task: "asyncio.Task[None]") -> None:
        self._acks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.counts["ack_failed"] += 1

    def _store_event(self, event: Event) -> Recorded:
        with self._sessions.begin() as session:
            return record_event(session, event, utcnow(), instance=self._instance)

    def _park(self, topic: str, payload: bytes, error: str) -> None:
        try:
            with self._sessions.begin() as session:
                insert_ignore(
                    session,
                    DeadLetter.__table__,  # type: ignore[arg-type]
                    {
                        "topic": topic[:200],
                        "payload": payload[:65536],
                        "payload_sha256": hashlib.sha256(payload).hexdigest(),
                        "error": error[:2000],
                        "received_at": utcnow(),
                    },
                    ["topic", "payload_sha256"],
                )
        except Exception:
            log.exception("ingest: could not park an invalid message")
