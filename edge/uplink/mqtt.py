"""The gateway's MQTT uplink — the only module that imports aiomqtt on the gateway.

Drains the outbox to the broker and takes the fleet's acknowledgements back. MQTT 5
with a persistent session, a retained ``status`` (online now, ``offline`` as the last
will), QoS 1 everywhere, reconnect with exponential backoff and jitter.
"""

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.outbox import Outbox
from edge.settings import MqttSettings
from silverguard import __version__
from silverguard.wire import (
    EventAck,
    FieldValue,
    GatewayStatus,
    Health,
    Topic,
    TopicKind,
    WireError,
    decode,
    encode,
)

log = logging.getLogger(__name__)

_SESSION_EXPIRY_S = 86400
_BATCH = 50  # outbox rows published concurrently


class Uplink:
    def __init__(
        self,
        settings: MqttSettings,
        gateway_id: str,
        outbox: Outbox,
        *,
        resend_after_s: float = 10.0,
        heartbeat_s: float = 30.0,
        health: Callable[[], dict[str, FieldValue]] = dict,
    ) -> None:
        self._settings = settings
        self._gateway_id = gateway_id
        self._outbox = outbox
        self._resend_after_s = resend_after_s
        self._heartbeat_s = heartbeat_s
        self._health = health
        self._sent_at: dict[int, float] = {}
        self._started = time.monotonic()
        self.wake = asyncio.Event()
        self.connected = asyncio.Event()
        self.invalid_messages = 0
        self.acks_received = 0
        self.reconnects = 0

    def _topic(self, kind: TopicKind) -> str:
        return str(Topic(self._gateway_id, kind))

    def _status(self, state: str) -> bytes:
        return encode(
            GatewayStatus(
                gateway=self._gateway_id, state=state, ts=time.time(), version=__version__
            )
        )

    def _client(self) -> aiomqtt.Client:
        s = self._settings
        connect_props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect_props.SessionExpiryInterval = _SESSION_EXPIRY_S
        tls = aiomqtt.TLSParameters(ca_certs=str(s.ca_file)) if s.ca_file else None
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username or None,
            password=s.password.get_secret_value() or None,
            identifier=self._gateway_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=connect_props,
            keepalive=s.keepalive_s,
            tls_params=tls,
            will=aiomqtt.Will(self._topic(TopicKind.STATUS), self._status("offline"), 1, True),
            timeout=10,
        )

    async def run(self) -> None:
        backoff = self._settings.backoff_min_s
        while True:
            try:
                async with self._client() as client:
                    backoff = self._settings.backoff_min_s
                    await self._session(client)
            except* aiomqtt.MqttError as group:
                # The session's task group wraps a lost connection in an ExceptionGroup.
                error = "; ".join(str(exc) for exc in group.exceptions)
                log.warning("uplink: broker connection lost or refused: %s", error)
            self.connected.clear()
            self.reconnects += 1
            # "Equal jitter": at least half the backoff, so a fleet of gateways that lost
            # the broker together do not all return in the same second.
            delay = backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311
            backoff = min(backoff * 2, self._settings.backoff_max_s)
            await asyncio.sleep(delay)

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self._topic(TopicKind.EVENT_ACK), qos=1)
        await client.publish(self._topic(TopicKind.STATUS), self._status("online"), 1, True)
        self._sent_at.clear()  # a new connection: every unacknowledged event goes again
        self.connected.set()
        log.info("uplink: connected to %s:%d", self._settings.host, self._settings.port)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._receive(client))
            tasks.create_task(self._send(client))
            tasks.create_task(self._heartbeat(client))

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if message.topic.matches(self._topic(TopicKind.EVENT_ACK)):
                try:
                    ack = decode(message.payload, EventAck)  # type: ignore[arg-type]
                except WireError as exc:
                    self.invalid_messages += 1
                    log.warning("uplink: invalid ack ignored: %s", exc)
                    continue
                self.acks_received += len(ack.ids)
                self._outbox.ack_events(ack.ids)
                self.wake.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            self.wake.clear()
            now = time.monotonic()
            events = [
                e
                for e in self._outbox.pending("event", limit=500)
                if self._sent_at.get(e.seq, -math.inf) + self._resend_after_s <= now
            ]
            for start in range(0, len(events), _BATCH):
                chunk = events[start : start + _BATCH]
                await asyncio.gather(*(client.publish(e.topic, e.payload, qos=1) for e in chunk))
                for e in chunk:
                    self._sent_at[e.seq] = now
            telemetry = self._outbox.pending("telemetry", limit=_BATCH)
            if telemetry:
                await asyncio.gather(
                    *(client.publish(t.topic, t.payload, qos=1) for t in telemetry)
                )
                self._outbox.remove(t.seq for t in telemetry)
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self._resend_after_s / 2)

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        while True:
            health = Health(
                gateway=self._gateway_id,
                ts=time.time(),
                uptime_s=round(time.monotonic() - self._started, 1),
                figures=self._health(),
            )
            await client.publish(self._topic(TopicKind.HEALTH), encode(health), qos=0)
            await asyncio.sleep(self._heartbeat_s)
