"""Consuming the gateways' messages — the only fleet module that speaks MQTT for ingest.

Subscribes through an MQTT 5 shared subscription (``$share/<group>/...``) so several
fleet instances split the load. An event is acknowledged to its gateway
(``event/ack``) only after it is committed to the registry — or parked.

Every message is handled on its own: whatever it makes our code raise is caught, the
message is parked in ``dead_letters`` with its cause (fleet.ingest.refusals), counted
per gateway, and the loop goes on. No message, and no gateway, can stop the fleet
hearing the others. What a gateway may say is judged by fleet.ingest.trust: the
schema first (contract.decode bounds size, depth and every number), then whether the
gateway covers the device, whether the kind is one a gateway may send, whether the id
is the event's own, and whether its times are near the fleet's clock.

Only an unavailable database is not a refusal: the message is then neither parked nor
acknowledged, and the gateway sends it again.

Events are taken in batches: while one batch is being stored, the next ones gather
(up to ``_EVENT_BATCH``), and a batch is one registry transaction and one ``event/ack``
per gateway. A morning's dose presses, each heard by two or three gateways, arrive as
a burst; stored one transaction per copy they queued for seconds (docs/benchmarks.md,
"Events into the fleet"). If anything in a batch fails, the batch is undone and each
of its messages is handled on its own, as above: a batch is only a faster way to the
same outcome. Events that may open an alert are taken before routine ones
(fleet.ingest.intake_queue): an SOS never waits behind a burst of dose presses.
"""

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiomqtt
import msgspec
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
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
from contract.topics import GATEWAY_ID_RE, PREFIX, TopicError, parse_topic, subscription
from fleet.alerts.service import Recorded, record_event
from fleet.db.session import utcnow
from fleet.ingest import trust
from fleet.ingest.dead_letters import DeadLetters
from fleet.ingest.intake_queue import IntakeQueue, urgent
from fleet.ingest.refusals import Cause, RefusalCounter, Refused
from fleet.ingest.trust import CoverageCache, TimeWindow
from fleet.settings import FleetMqttSettings

log = logging.getLogger(__name__)

_RECEIVE_MAXIMUM = 65535
_BACKOFF_MAX_S = 30.0
_EVENT_BATCH = 200  # events stored in one transaction, at most

OnAlert = Callable[[Recorded], None]
# The batch, and what to call once its readings are stored (then, and only then, the
# message is acknowledged to the broker).
OnTelemetry = Callable[[TelemetryBatch, Callable[[], None]], None]
Ack = Callable[[], None]
# An event message waiting for its batch: topic, payload, its broker acknowledgement.
Pending = tuple[str, bytes, "Ack | None"]
OnGatewayMessage = Callable[[str, GatewayStatus | Health], Awaitable[None] | None]
OnConfigReport = Callable[[ConfigReport], Awaitable[None] | None]


_T = TypeVar("_T")


def _same_incident(a: Event, b: Event, tolerance_s: float) -> bool:
    """Copies of one event: the same id, times within the id tolerance (record_event)."""
    return abs(a.occurred_at - b.occurred_at) <= tolerance_s


def _nothing() -> None:
    pass


@dataclass(slots=True)
class _AckSlot:
    """A message's acknowledgement while it is handled: ``handle`` calls it at the end
    unless the telemetry path took it, to call once the readings are stored."""

    ack: Ack | None


def _database_down(exc: SQLAlchemyError) -> bool:
    """An outage (retry later) rather than values the database refuses (park them)."""
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _topic_gateway(topic: str) -> str | None:
    """The gateway a topic belongs to (the part after the prefix), also
    for a topic of an unknown kind: a refusal is counted against its sender."""
    try:
        return parse_topic(topic).gateway_id
    except TopicError:
        rest = topic.removeprefix(PREFIX + "/")
        gateway = rest.partition("/")[0]
        return gateway if rest != topic and GATEWAY_ID_RE.match(gateway) else None


def _is_event(topic: str) -> bool:
    try:
        return parse_topic(topic).kind is TopicKind.EVENT
    except TopicError:
        return False


class Ingest:
    def __init__(
        self,
        settings: FleetMqttSettings,
        sessions: sessionmaker[Session],
        *,
        client_id: str,
        on_alert: OnAlert,
        on_telemetry: OnTelemetry,
        coverage: CoverageCache,
        dead_letters: DeadLetters,
        window: TimeWindow | None = None,
        id_tolerance_s: float = 600.0,
        on_gateway: OnGatewayMessage | None = None,
        on_config_report: OnConfigReport | None = None,
        telemetry_shared: bool = True,
        instance: str = "fleet",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._instance = instance
        self._sessions = sessions
        self._on_alert = on_alert
        self._on_telemetry = on_telemetry
        self._on_gateway = on_gateway
        self._on_config_report = on_config_report
        self._coverage = coverage
        self._window = window or TimeWindow()
        self._id_tolerance_s = id_tolerance_s
        self._clock = clock
        self.dead_letters = dead_letters
        self.refusals = RefusalCounter()
        # Partitioned instances each need every telemetry batch (see source.Partition).
        self._telemetry_shared = telemetry_shared
        self.counts: Counter[str] = Counter()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._acks: set[asyncio.Task[None]] = set()
        self._fault_logged_at = float("-inf")

    def _make_client(self) -> aiomqtt.Client:
        s = self._settings
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = s.session_expiry_s
        # Messages the broker may have out to us unacknowledged. Telemetry is
        # acknowledged only once stored (up to a flush, or a slow InfluxDB write, later),
        # and events arrive in the same session behind it: a small window (the broker's
        # default for a client that names none is 20, Mosquitto's max_inflight_messages)
        # would make an SOS wait for InfluxDB. With MQTT's largest, events flow while
        # writes lag; the writer's bounded buffer (influx.buffer_lines, then the spill)
        # is what holds telemetry back.
        props.ReceiveMaximum = _RECEIVE_MAXIMUM
        client = transport.Client(
            s.host,
            s.port,
            username=s.username or None,
            password=s.password.get_secret_value() or None,
            identifier=self._client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
            tls_params=aiomqtt.TLSParameters(ca_certs=str(s.ca_file)) if s.ca_file else None,
            timeout=10,
        )
        # PUBACK when the message is handled (telemetry: when its readings are out of
        # memory), not when it arrives: a fleet killed with messages in hand gets them
        # again from the broker when it reconnects (its session outlives it by
        # SessionExpiryInterval). Set before connecting: a resumed session's queue
        # arrives at once. (paho's own switch; aiomqtt 2 has none.)
        client._client.manual_ack_set(True)
        return client

    def _acker(self, client: aiomqtt.Client, message: aiomqtt.Message) -> Ack:
        done = False

        def ack() -> None:
            nonlocal done
            # Only on the connection it came by: after a reconnect the broker sends
            # unacknowledged messages again, and a stale id would acknowledge another.
            if done or message.qos == 0 or self._client is not client:
                return
            done = True
            client._client.ack(message.mid, message.qos)

        return ack

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
                    events: IntakeQueue[Pending] = IntakeQueue()
                    worker = asyncio.create_task(self._event_worker(events))
                    try:
                        async for message in client.messages:
                            topic = str(message.topic)
                            payload = bytes(message.payload)  # type: ignore[arg-type]
                            ack = self._acker(client, message)
                            if _is_event(topic):
                                self.enqueue(events, topic, payload, ack)
                            else:
                                await self.handle(topic, payload, ack=ack)
                    finally:
                        worker.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await worker
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

    async def handle(self, topic_name: str, payload: bytes, *, ack: Ack | None = None) -> None:
        """Handle one message in isolation: nothing it raises leaves this method.

        ``ack`` acknowledges the message to the broker: called here once the message is
        handled (stored, parked or refused), or handed on with the kept readings of a
        telemetry batch, which call it once they are stored."""
        slot = _AckSlot(ack)
        try:
            await self._dispatch(topic_name, payload, slot)
        except asyncio.CancelledError:
            raise
        except Refused as exc:
            await self._refuse(topic_name, payload, exc.cause, exc.detail)
        except (WireError, TopicError) as exc:
            await self._refuse(topic_name, payload, Cause.INVALID, str(exc))
        except SQLAlchemyError as exc:
            if _database_down(exc):
                # Not acknowledged: the gateway keeps the event and sends it again.
                self.counts["store_failed"] += 1
                log.error(
                    "ingest: registry unavailable (%s); message on %s not stored",
                    type(exc).__name__,
                    topic_name,
                )
            else:
                await self._refuse(topic_name, payload, Cause.STORE_REFUSED, str(exc)[:500])
        except Exception as exc:
            # A fault of ours, not the sender's: kept for the developers, its traceback
            # logged at most once a minute, and the loop goes on. Not acknowledged: the
            # gateway sends it again, and a fixed fleet takes it then.
            self._internal_error(f"a message on {topic_name}")
            await self._refuse(
                topic_name, payload, Cause.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"
            )
        finally:
            pending, slot.ack = slot.ack, None
            if pending is not None:
                pending()

    async def _dispatch(self, topic_name: str, payload: bytes, slot: "_AckSlot") -> None:
        topic = parse_topic(topic_name)
        if topic.kind is TopicKind.EVENT:
            await self._handle_event(topic, payload)
        elif topic.kind is TopicKind.TELEMETRY:
            await self._handle_telemetry(topic, payload, slot)
        elif topic.kind in (TopicKind.STATUS, TopicKind.HEALTH):
            message: GatewayStatus | Health = (
                decode(payload, GatewayStatus)
                if topic.kind is TopicKind.STATUS
                else decode(payload, Health)
            )
            self._check_gateway(topic, message.gateway)
            # Only the future is refused: a retained will may be weeks old, rightly.
            if message.ts > self._clock() + self._window.max_future_s:
                raise Refused(
                    Cause.FUTURE_TIMESTAMP,
                    f"{topic.kind.value} dated {message.ts - self._clock():+.0f} s from now",
                )
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
        else:
            raise Refused(Cause.INVALID, f"gateways do not send on {topic.kind.value}")

    def _internal_error(self, what: str) -> None:
        """Counted; the traceback logged at most once a minute (call in an except)."""
        self.counts["internal_errors"] += 1
        now = time.monotonic()
        if now - self._fault_logged_at >= 60.0:
            self._fault_logged_at = now
            log.exception("ingest: failed on %s", what)

    def _check_gateway(self, topic: Topic, claimed: str) -> None:
        # The broker's ACL ties a gateway to its own topics; the payload must agree.
        if claimed != topic.gateway_id:
            raise Refused(
                Cause.WRONG_GATEWAY,
                f"payload names gateway {claimed!r} on {topic.gateway_id!r}'s topic",
            )

    async def _refuse(
        self, topic_name: str, payload: bytes, cause: Cause, detail: str, *, n: int = 1
    ) -> bool:
        """Count, log (rate-limited) and park a refused message; True if it is parked."""
        gateway = _topic_gateway(topic_name)
        self.counts["refused"] += n
        self.refusals.refused(gateway or "?", cause, detail, n)
        if not self.dead_letters.may_park(gateway or "?"):
            return False
        return await asyncio.to_thread(
            self.dead_letters.park, topic_name, gateway, payload, cause, detail
        )

    async def _handle_event(self, topic: Topic, payload: bytes) -> None:
        event = decode(payload, Event)
        try:
            self._check_gateway(topic, event.gateway)
            trust.check_event(event, self._window, self._clock())
            recorded = await asyncio.to_thread(self._store_event, event)
        except Refused as exc:
            if await self._refuse(str(topic), payload, exc.cause, exc.detail):
                # Parked is kept: the gateway may stop sending it.
                self._ack(topic.gateway_id, event.id)
            return
        self._recorded(topic, event, recorded)
        self._ack(topic.gateway_id, event.id)

    def _recorded(self, topic: Topic, event: Event, recorded: Recorded) -> None:
        """Counts, the notifier woken, a log line: after the event's commit."""
        self.counts["events"] += 1
        if not recorded.new_event:
            self.counts["events_duplicate"] += 1
        if recorded.id_collision and recorded.new_event:
            self.counts["id_collisions"] += 1
            log.warning(
                "ingest: event %s from %s reuses the id of an event at another time: "
                "stored as %s, a new incident",
                event.id,
                topic.gateway_id,
                recorded.event_id,
            )
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

    def enqueue(
        self, queue: "IntakeQueue[Pending]", topic: str, payload: bytes, ack: Ack | None
    ) -> None:
        """An event message for the worker; one that may open an alert goes first."""
        queue.put((topic, payload, ack), urgent=urgent(payload))

    async def store_next_batch(self, queue: "IntakeQueue[Pending]") -> int:
        """Wait for event messages and store up to one batch; how many were taken."""
        batch = await queue.take(_EVENT_BATCH)
        try:
            await self.handle_events(batch)
        except asyncio.CancelledError:
            raise
        except Exception:  # handle_events catches its own; this is a last guard
            self._internal_error("a batch of events")
        return len(batch)

    async def _event_worker(self, queue: "IntakeQueue[Pending]") -> None:
        while True:
            await self.store_next_batch(queue)

    async def handle_events(self, batch: list[Pending]) -> None:
        """Handle event messages together: one registry transaction, one ``event/ack``
        per gateway. The outcome is each message's as :meth:`handle` gives it — which
        is what happens, message by message, if anything in the batch fails."""
        valid: list[tuple[Topic, bytes, Event, Ack | None]] = []
        for topic_name, payload, ack in batch:
            try:
                topic = parse_topic(topic_name)
                event = decode(payload, Event)
                self._check_gateway(topic, event.gateway)
                trust.check_event(event, self._window, self._clock())
            except (Refused, WireError, TopicError):
                await self.handle(topic_name, payload, ack=ack)  # refused, on its own
                continue
            valid.append((topic, payload, event, ack))
        if not valid:
            return
        try:
            results = await asyncio.to_thread(self._store_events, [v[2] for v in valid])
        except asyncio.CancelledError:
            raise
        except Exception:
            self.counts["event_batches_split"] += 1
            for topic, payload, _event, ack in valid:
                await self.handle(str(topic), payload, ack=ack)
            return
        self.counts["event_batches"] += 1
        acked: dict[str, list[str]] = {}
        for (topic, payload, event, ack), result in zip(valid, results, strict=True):
            try:
                if isinstance(result, Refused):
                    if await self._refuse(str(topic), payload, result.cause, result.detail):
                        acked.setdefault(topic.gateway_id, []).append(event.id)
                else:  # committed: acknowledged whatever happens next
                    acked.setdefault(topic.gateway_id, []).append(event.id)
                    self._recorded(topic, event, result)
            except Exception:
                self._internal_error(f"event {event.id} after storing it")
            finally:
                if ack is not None:
                    ack()
        for gateway_id, ids in acked.items():
            self._ack_many(gateway_id, ids)

    def _store_events(self, events: list[Event]) -> list["Recorded | Refused"]:
        """One transaction for the batch. A refusal (coverage) only reads, so it leaves
        the transaction clean; anything else raised undoes the whole batch."""
        out: list[Recorded | Refused] = []
        first: dict[str, tuple[Event, Recorded]] = {}  # event id -> its first copy here
        with self._sessions.begin() as session:
            lookups = trust.CoverageLookups(session)
            for event in events:
                try:
                    trust.check_event_coverage(session, event, lookups)
                except Refused as exc:
                    out.append(exc)
                    continue
                seen = first.get(event.id)
                if seen is not None and _same_incident(seen[0], event, self._id_tolerance_s):
                    # Another gateway's copy (or a resend) of an event stored a moment
                    # ago in this transaction: what storing it again would answer.
                    out.append(
                        dataclasses.replace(seen[1], new_event=False, new_alert=False, deliveries=0)
                    )
                    continue
                recorded = record_event(
                    session,
                    event,
                    utcnow(),
                    instance=self._instance,
                    id_tolerance_s=self._id_tolerance_s,
                )
                first.setdefault(event.id, (event, recorded))
                out.append(recorded)
        return out

    def _ack_many(self, gateway_id: str, ids: list[str]) -> None:
        for start in range(0, len(ids), 1000):  # EventAck holds up to 1,000 ids
            ack = EventAck(ids=ids[start : start + 1000])
            self._spawn(self.publish(str(Topic(gateway_id, TopicKind.EVENT_ACK)), encode(ack)))

    def _ack(self, gateway_id: str, event_id: str) -> None:
        # The ack is published without waiting for the broker's PUBACK before the next
        # message is handled: a lost ack only makes the gateway send the event again,
        # which the event id makes harmless.
        ack = EventAck(ids=[event_id])
        self._spawn(self.publish(str(Topic(gateway_id, TopicKind.EVENT_ACK)), encode(ack)))

    async def _handle_telemetry(self, topic: Topic, payload: bytes, slot: "_AckSlot") -> None:
        batch = decode(payload, TelemetryBatch)
        self._check_gateway(topic, batch.gateway)
        coverage = await self._coverage.current()
        now = self._clock()
        verdicts = [coverage.judge(batch.gateway, r, self._window, now) for r in batch.readings]
        if any(v is not None for v in verdicts):
            fresher = await self._coverage.after_miss()
            if fresher is not None:  # judged by a snapshot a little old: judge again
                verdicts = [
                    v if v is None else fresher.judge(batch.gateway, r, self._window, now)
                    for r, v in zip(batch.readings, verdicts, strict=True)
                ]
        kept = [r for r, v in zip(batch.readings, verdicts, strict=True) if v is None]
        refused = Counter(v for v in verdicts if v is not None)
        self.counts["telemetry_batches"] += 1
        if refused:
            # The good readings of a batch are kept; the batch is parked once, whole,
            # under its most common cause, with every cause counted.
            devices = sorted({r.device for r, v in zip(batch.readings, verdicts, strict=True) if v})
            detail = (
                f"{sum(refused.values())} of {len(batch.readings)} readings refused "
                f"({', '.join(f'{c.value}: {n}' for c, n in refused.most_common())}); "
                f"devices: {', '.join(devices[:10])}{' …' if len(devices) > 10 else ''}"
            )
            for cause, n in refused.items():
                self.refusals.refused(batch.gateway, cause, detail, n)
            self.counts["readings_refused"] += sum(refused.values())
            if self.dead_letters.may_park(batch.gateway):
                await asyncio.to_thread(
                    self.dead_letters.park,
                    str(topic),
                    batch.gateway,
                    payload,
                    refused.most_common(1)[0][0],
                    detail,
                )
        if kept:
            whole = len(kept) == len(batch.readings)
            ack, slot.ack = slot.ack, None
            try:
                self._on_telemetry(
                    batch if whole else msgspec.structs.replace(batch, readings=kept),
                    ack or _nothing,
                )
            except BaseException:
                slot.ack = ack  # parked by handle(), and acknowledged there
                raise

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
            trust.check_event_coverage(session, event)
            return record_event(
                session,
                event,
                utcnow(),
                instance=self._instance,
                id_tolerance_s=self._id_tolerance_s,
            )
