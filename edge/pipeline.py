"""From a received advert to stored events and telemetry: decode, state, rules, outbox.

Synchronous and allocation-light: it runs for every advert (867 bands at about one
advert a second each on a Pi). The clock is injected so tests can run days at once.
"""

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable

from contract import Event, Reading, TelemetryBatch, Topic, TopicKind, encode
from contract.messages import ReadingKind
from edge.ble.advert import Advert
from edge.decode.bthome import BTHomeDecoder, Decoded, Reject
from edge.decode.profile import interpret
from edge.outbox import Outbox, OutboxFull
from edge.rules.engine import RuleEngine
from edge.state import DeviceState

log = logging.getLogger(__name__)

# Bands repeat each event in several adverts; remember recent ids so each is stored
# once. The fleet dedups by id anyway — this only spares the uplink.
_RECENT_EVENT_IDS = 4096
# Readings from other sources (meters) wait here for the next batch; a few minutes of
# many meters' polls at most, so a stalled flush cannot grow memory without bound.
_MAX_EXTRA_READINGS = 10_000


class Pipeline:
    def __init__(
        self,
        gateway_id: str,
        decoder: BTHomeDecoder,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.time,
        on_event: Callable[[Event], None] = lambda event: None,
        rules: RuleEngine | None = None,
        sensors: set[str] | None = None,
    ) -> None:
        self.gateway_id = gateway_id
        self.decoder = decoder
        self.rules = rules or RuleEngine(gateway_id)
        # MACs of the flats' other BTHome devices: decoded the same way, reported as
        # devices of their own, not read with the wristband profile.
        self.sensors: set[str] = set(sensors or ())
        self.outbox = outbox
        self._clock = clock
        self._on_event = on_event
        self._event_topic = str(Topic(gateway_id, TopicKind.EVENT))
        self._telemetry_topic = str(Topic(gateway_id, TopicKind.TELEMETRY))
        self.devices: dict[str, DeviceState] = {}
        self.rejects: Counter[str] = Counter()
        self.accepted = 0
        self.events_stored = 0
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._telemetry_seq = 0
        # Events the outbox could not take (disk full): kept here and retried each tick.
        self.unstored: dict[str, Event] = {}
        self._extra_readings: list[Reading] = []
        self.extra_readings_dropped = 0

    def on_advert(self, advert: Advert) -> None:
        result = self.decoder.decode(advert)
        if isinstance(result, Reject):
            self.rejects[result] += 1
            return
        self.accepted += 1
        now = self._clock()
        if result.address in self.sensors:
            self._on_sensor(result, now)
            return
        frame = interpret(result)
        state = self.devices.get(frame.address)
        if state is None:
            state = self.devices[frame.address] = DeviceState(frame.address)
        state.update(frame, now)
        for event in self.rules.on_frame(frame, now):
            self.store_event(event)

    def _on_sensor(self, decoded: Decoded, now: float) -> None:
        state = self.devices.get(decoded.address)
        if state is None:
            state = self.devices[decoded.address] = DeviceState(
                decoded.address, kind=ReadingKind.SENSOR
            )
        state.update_values(decoded.values, decoded.rssi, now)

    def on_tick(self) -> None:
        """Run the time-driven rules; the app calls this about once a second."""
        for event in list(self.unstored.values()):
            self._store(event)
        for event in self.rules.on_tick(self._clock()):
            self.store_event(event)

    def store_event(self, event: Event) -> None:
        if event.id in self._recent:
            return
        self._recent[event.id] = None
        if len(self._recent) > _RECENT_EVENT_IDS:
            self._recent.popitem(last=False)
        self._store(event)

    def _store(self, event: Event) -> None:
        try:
            stored = self.outbox.put_event(
                event.id, self._event_topic, encode(event), now=event.detected_at
            )
        except OutboxFull as exc:
            if event.id not in self.unstored:
                log.critical("event %s %s kept in memory only: %s", event.kind, event.id, exc)
            self.unstored[event.id] = event
            return
        self.unstored.pop(event.id, None)
        if stored:
            self.events_stored += 1
            log.info("event %s %s from %s stored for upload", event.kind, event.id, event.device)
            self._on_event(event)

    def add_reading(self, reading: Reading) -> None:
        """Queue a reading that does not come from an advert (a meter's) for the next batch."""
        self._extra_readings.append(reading)
        if len(self._extra_readings) > _MAX_EXTRA_READINGS:
            del self._extra_readings[0]
            self.extra_readings_dropped += 1

    def flush_telemetry(self) -> int:
        """Put one batch with every device changed since the last one; return its size."""
        readings = []
        for state in self.devices.values():
            if not state.dirty:
                continue
            state.dirty = False
            readings.append(
                Reading(
                    device=state.address,
                    kind=state.kind,
                    ts=state.last_seen,
                    rssi=state.rssi,
                    fields=dict(state.fields),
                )
            )
        readings += self._extra_readings
        self._extra_readings = []
        if not readings:
            return 0
        self._telemetry_seq += 1
        batch = TelemetryBatch(gateway=self.gateway_id, seq=self._telemetry_seq, readings=readings)
        self.outbox.put_telemetry(self._telemetry_topic, encode(batch), now=self._clock())
        return len(readings)
