"""The gateway's MQTT uplink — the only module that imports aiomqtt on the gateway.

Drains the outbox to the broker and takes the fleet's acknowledgements and desired
config back. MQTT 5 with a persistent session, TLS when the fleet's CA is given, a
retained ``status`` (online now, ``offline`` as the last will), QoS 1 for everything
that matters, a heartbeat with health figures, reconnect with exponential backoff and
jitter. Nothing that goes wrong here ends the task: it reconnects, forever.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contract import (
    EventAck,
    FieldValue,
    GatewayStatus,
    Health,
    Topic,
    TopicKind,
    WireError,
    __version__,
    decode,
    encode,
    transport,
)
from contract.clock import SYSTEM, Clock
from contract.config import ConfigReport
from contract.messages import GatewayState
from edge.outbox import Entry, Outbox
from edge.settings import MqttSettings

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_SESSION_EXPIRY_S = 86400
_BATCH = 50  # outbox rows published concurrently
_EVENTS_IN_FLIGHT = 500  # unacknowledged events considered per pass


class PublishRefused(aiomqtt.MqttError):
    """The broker answered a QoS 1 publish with a failure reason code (MQTT 5)."""

    def __init__(self, topic: str, reason: ReasonCode) -> None:
        super().__init__(f"broker refused a publish to {topic}: {reason.value} {reason}")
        self.reason = reason


class _Client(transport.Client):
    """aiomqtt's client, made to notice a PUBACK that refuses the message.

    aiomqtt 2.x completes ``publish()`` on any PUBACK: paho passes the MQTT 5 reason
    code to ``on_publish``, where aiomqtt drops it. Mosquitto answers a publish its
    ACL denies with PUBACK 0x87 (not authorized), and an oversized one with 0x97;
    taking that for delivery would delete telemetry that never arrived. So we keep
    failed reason codes by message id and raise ``PublishRefused`` from
    ``publish_checked``. This leans on aiomqtt internals (``_client``,
    ``_pending_call``, ``_pending_publishes``, ``_wait_for``); pyproject pins aiomqtt below 3 and
    tests/edge/test_uplink.py proves the behaviour against a real broker.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused: dict[int, ReasonCode] = {}

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        if reason_code.is_failure:
            self._refused[mid] = reason_code
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish_checked(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> None:
        info = self._client.publish(topic, payload, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, f"could not publish to {topic}")
        if not info.is_published():
            confirmation = asyncio.Event()
            with self._pending_call(info.mid, confirmation, self._pending_publishes):
                await self._wait_for(confirmation.wait(), timeout=None)
        reason = self._refused.pop(info.mid, None)
        if reason is not None:
            raise PublishRefused(topic, reason)


@dataclass
class UplinkState:
    """What the status file and the heartbeat say about the link."""

    state: str = "connecting"  # connecting | connected | down
    since: float = 0.0  # wall clock of the last change of state
    last_connected: float | None = None  # wall clock of the last successful connect
    last_error: str = ""
    backoff_s: float = 0.0  # the current reconnect backoff (its cap shows a long outage)
    reconnects: int = 0
    publish_refused: int = 0
    acks_received: int = 0
    events_published: int = 0
    telemetry_published: int = 0
    invalid_messages: int = 0
    last_heartbeat: float | None = None


OnConfig = Callable[[bytes], ConfigReport | None]


class Uplink:
    def __init__(
        self,
        settings: MqttSettings,
        gateway_id: str,
        outbox: Outbox,
        *,
        resend_after_s: float = 10.0,
        resend_max_s: float = 300.0,
        heartbeat_s: float = 30.0,
        health: Callable[[], dict[str, FieldValue]] = dict,
        on_config: OnConfig | None = None,
        config_report: Callable[[], ConfigReport | None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Clock = SYSTEM,
    ) -> None:
        self._settings = settings
        self._gateway_id = gateway_id
        self._outbox = outbox
        self._resend_after_s = resend_after_s
        self._resend_max_s = resend_max_s
        self._heartbeat_s = heartbeat_s
        self._health = health
        self._on_config = on_config
        self._config_report = config_report
        self._monotonic = monotonic  # network time: resend and backoff schedules
        self._clock = clock  # product time: timestamps, heartbeat period, time offline
        # seq -> (when next due, copies sent on this connection)
        self._due: dict[int, tuple[float, int]] = {}
        self._started = clock.now()
        self._down_since = self._started
        self.wake = asyncio.Event()
        self.connected = asyncio.Event()
        self.idle = False  # the sender is waiting for work
        self.state = UplinkState(since=clock.now())

    # -- what other parts ask ------------------------------------------------------------

    def offline_for(self) -> float:
        """Seconds since the link was last up (since start if it never was); 0 if up."""
        if self.connected.is_set():
            return 0.0
        return max(0.0, self._clock.now() - self._down_since)

    def figures(self) -> dict[str, FieldValue]:
        s = self.state
        return {
            "uplink_reconnects": s.reconnects,
            "uplink_publish_refused": s.publish_refused,
            "events_acked": s.acks_received,
            "invalid_messages": s.invalid_messages,
        }

    # -- connection ----------------------------------------------------------------------

    def _topic(self, kind: TopicKind) -> str:
        return str(Topic(self._gateway_id, kind))

    def _status(self, state: GatewayState) -> bytes:
        return encode(
            GatewayStatus(
                gateway=self._gateway_id, state=state, ts=self._clock.now(), version=__version__
            )
        )

    def _client(self) -> _Client:
        s = self._settings
        connect_props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect_props.SessionExpiryInterval = _SESSION_EXPIRY_S
        tls = None
        if s.tls:
            # The fleet's CA, not the system store: the broker's certificate is ours.
            tls = aiomqtt.TLSParameters(ca_certs=str(s.ca_file) if s.ca_file else None)
        return _Client(
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
            will=aiomqtt.Will(
                self._topic(TopicKind.STATUS), self._status(GatewayState.OFFLINE), 1, True
            ),
            timeout=10,
        )

    def _set_state(self, state: str, error: str = "") -> None:
        if state != self.state.state:
            self.state.state = state
            self.state.since = self._clock.now()
        if error:
            self.state.last_error = error

    async def run(self) -> None:
        backoff = self._settings.backoff_min_s
        while True:
            self.state.backoff_s = backoff
            try:
                async with self._client() as client:
                    backoff = self._settings.backoff_min_s
                    await self._session(client)
            except* aiomqtt.MqttError as group:
                error = "; ".join(str(exc) for exc in group.exceptions)
                refused = [e for e in group.exceptions if isinstance(e, PublishRefused)]
                if refused:
                    self.state.publish_refused += len(refused)
                    log.error("uplink: %s; reconnecting with backoff", error)
                else:
                    log.warning("uplink: broker connection lost or refused: %s", error)
                self._set_state("down", error)
            except* Exception as group:
                # A bug must not silence the gateway: log it, reconnect, carry on.
                log.error("uplink: unexpected error", exc_info=group)
                self._set_state("down", f"unexpected error: {group.exceptions[0]!r}")
            # No check of current_task().cancelling() here: on Python 3.11 a TaskGroup
            # whose child fails while it is already exiting leaves its parent's cancel
            # count raised for good, so that figure cannot tell a shutdown apart.
            if self.connected.is_set():
                self.connected.clear()
                self._down_since = self._clock.now()
            self._set_state("down")
            self.state.reconnects += 1
            # "Equal jitter": at least half the backoff, so a fleet of gateways that lost
            # the broker together do not all return in the same second.
            delay = backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311
            backoff = min(backoff * 2, self._settings.backoff_max_s)
            self.state.backoff_s = backoff
            await asyncio.sleep(delay)

    async def _session(self, client: _Client) -> None:
        await client.subscribe(self._topic(TopicKind.EVENT_ACK), qos=1)
        if self._on_config is not None:
            await client.subscribe(self._topic(TopicKind.CONFIG), qos=1)
        await client.publish_checked(
            self._topic(TopicKind.STATUS), self._status(GatewayState.ONLINE), 1, True
        )
        report = self._config_report()
        if report is not None:
            await client.publish_checked(self._topic(TopicKind.CONFIG_REPORTED), encode(report), 1)
        self._due.clear()  # a new connection: every unacknowledged event goes again
        self.connected.set()
        self.state.last_connected = self._clock.now()
        self._set_state("connected")
        log.info("uplink: connected to %s:%d", self._settings.host, self._settings.port)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._receive(client))
            tasks.create_task(self._send(client))
            tasks.create_task(self._heartbeat(client))

    # -- receiving -----------------------------------------------------------------------

    async def _receive(self, client: _Client) -> None:
        async for message in client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                self.state.invalid_messages += 1
                continue
            if message.topic.matches(self._topic(TopicKind.EVENT_ACK)):
                try:
                    ack = decode(payload, EventAck)
                except WireError as exc:
                    self.state.invalid_messages += 1
                    log.warning("uplink: invalid ack ignored: %s", exc)
                    continue
                self.state.acks_received += len(ack.ids)
                # On the loop's thread: the outbox's connection is not shared across threads.
                self._outbox.ack_events(ack.ids)
                self.wake.set()
            elif message.topic.matches(self._topic(TopicKind.CONFIG)) and self._on_config:
                report = self._on_config(bytes(payload))
                if report is not None:
                    await client.publish_checked(
                        self._topic(TopicKind.CONFIG_REPORTED), encode(report), 1
                    )

    # -- sending -------------------------------------------------------------------------

    def _events_due(self, now: float) -> list[Entry]:
        pending = self._outbox.pending("event", limit=_EVENTS_IN_FLIGHT)
        # Forget acknowledged events; keep the schedule of those still waiting.
        self._due = {e.seq: self._due[e.seq] for e in pending if e.seq in self._due}
        return [e for e in pending if self._due.get(e.seq, (0.0, 0))[0] <= now]

    async def _send(self, client: _Client) -> None:
        while True:
            self.wake.clear()
            now = self._monotonic()
            events = self._events_due(now)
            for start in range(0, len(events), _BATCH):
                chunk = events[start : start + _BATCH]
                await asyncio.gather(*(client.publish_checked(e.topic, e.payload) for e in chunk))
                self.state.events_published += len(chunk)
                for e in chunk:
                    copies = self._due.get(e.seq, (0.0, 0))[1] + 1
                    # Unacknowledged events go again, less and less often: a fleet that
                    # is down for an hour should not find its queue full of copies.
                    wait = min(self._resend_after_s * 2 ** (copies - 1), self._resend_max_s)
                    self._due[e.seq] = (now + wait, copies)
            telemetry = self._outbox.pending("telemetry", limit=_BATCH)
            if telemetry:
                results = await asyncio.gather(
                    *(client.publish_checked(t.topic, t.payload) for t in telemetry),
                    return_exceptions=True,
                )
                delivered = [t.seq for t, r in zip(telemetry, results, strict=True) if r is None]
                self._outbox.remove(delivered)
                self.state.telemetry_published += len(delivered)
                for result in results:
                    if isinstance(result, BaseException):
                        raise result  # the rest stay in the outbox for the next connection
                continue  # more may be waiting
            next_due = min((due for due, _ in self._due.values()), default=now + 60.0)
            timeout = max(0.05, min(next_due - now, self._resend_after_s))
            self.idle = True  # nothing to send until woken or a resend is due
            await transport.wait_event(self.wake, timeout)
            self.idle = False

    async def _heartbeat(self, client: _Client) -> None:
        while True:
            figures = {**self._health(), **self.figures()}
            health = Health(
                gateway=self._gateway_id,
                ts=self._clock.now(),
                uptime_s=round(self._clock.now() - self._started, 1),
                figures=figures,
            )
            # QoS 0: a heartbeat is only worth anything now; the next one replaces it.
            await client.publish(self._topic(TopicKind.HEALTH), encode(health), qos=0)
            self.state.last_heartbeat = health.ts
            await self._clock.sleep(self._heartbeat_s, min_wall_s=0.5)
