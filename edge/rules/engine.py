"""All of the gateway's rules behind one pure interface.

Frames (decoded adverts) and clock ticks go in; events (and commands for bands) come
out. No I/O, no clock of its own: the caller passes ``now`` (Unix seconds), so tests
can run a week in milliseconds. The pipeline calls ``on_frame`` per advert and the app
calls ``on_tick`` about once a second for time-driven rules (confirmation windows,
inactivity, missed doses, bands not seen), then drains ``take_commands``.

Clock steps. ``now`` is the wall clock, which NTP may step - a Raspberry Pi without a
real-time clock boots hours or years in the past and jumps forward once synchronised.
A step backwards, or forwards by more than ``MAX_TICK_GAP_S`` between two calls, is
taken as a step of the clock, not as time passing: every span a rule is measuring
(confirmation windows, inactivity, not worn, not seen) keeps its remaining length.
Medication doses are times of day and follow the wall clock as it is.
"""

import logging

from contract import Event
from edge.decode.profile import BandEventKind, WristbandFrame
from edge.rules.actions import BandCommand
from edge.rules.config import RulesConfig
from edge.rules.device import DeviceRule
from edge.rules.fall import FallRule, FallSuspected
from edge.rules.inactivity import InactivityRule, UsageProvider, no_usage_evidence
from edge.rules.medication import MedicationRule
from edge.rules.snapshot import RulesSnapshot
from edge.rules.sos import sos_event

log = logging.getLogger(__name__)

# The app ticks every second; a gap longer than this between two calls is a clock step
# (or a gateway so overloaded that its judgement of elapsed time is moot anyway).
MAX_TICK_GAP_S = 120.0


class RuleEngine:
    def __init__(
        self,
        gateway_id: str,
        config: RulesConfig | None = None,
        *,
        usage: UsageProvider = no_usage_evidence,
        max_tick_gap_s: float = MAX_TICK_GAP_S,
    ) -> None:
        self.gateway_id = gateway_id
        self.config = config or RulesConfig()
        self.fall = FallRule(gateway_id)
        self.inactivity = InactivityRule(gateway_id, usage)
        self.medication = MedicationRule(gateway_id)
        self.device = DeviceRule(gateway_id)
        self._commands: list[BandCommand] = []
        self._last_now: float | None = None
        # Newest origin counter of each band event handled, per band and kind: copies
        # of an event (a band repeats it in several adverts) are handled once.
        self._handled: dict[tuple[str, BandEventKind], int] = {}
        self.clock_steps = 0
        self.max_tick_gap_s = max_tick_gap_s

    def set_config(self, config: RulesConfig) -> None:
        """Apply a new config at once; running windows and spans carry on under it."""
        self.config = config

    def set_usage(self, usage: UsageProvider) -> None:
        """Where the inactivity rule asks about the flats' meters (the meter service)."""
        self.inactivity.usage = usage

    def on_frame(self, frame: WristbandFrame, now: float) -> list[Event]:
        self._watch_clock(now)
        cfg = self.config
        events = self.device.on_frame(frame, now, cfg)
        self.inactivity.on_frame(frame, now)
        events += self.fall.on_frame(frame, now, cfg.fall_settings(frame.address))
        event = frame.event
        if event is not None and self._fresh(frame.address, event.kind, event.origin_counter):
            if event.kind is BandEventKind.LONG_PRESS:
                sos = sos_event(frame, self.gateway_id, now)
                if sos is not None:
                    events.append(sos)
            elif event.kind is BandEventKind.SHORT_PRESS:
                # One press, one meaning: it cancels an open fall window if there is
                # one, and only otherwise counts as "medicine taken".
                if self.fall.window_open(frame.address):
                    events += self.fall.on_press(frame, event.origin_counter, now)
                else:
                    events += self.medication.on_press(frame.address, now, cfg)
        return events

    def on_tick(self, now: float) -> list[Event]:
        self._watch_clock(now)
        cfg = self.config
        events = self.fall.on_tick(now)
        events += self.inactivity.on_tick(now, cfg)
        missed, commands = self.medication.on_tick(now, cfg)
        events += missed
        self._commands += commands
        events += self.device.on_tick(now, cfg)
        return events

    def snapshot(self, now: float) -> RulesSnapshot:
        """What must survive a restart (see edge.rules.snapshot)."""
        return RulesSnapshot(
            saved_at=now, activity=self.inactivity.snapshot(), doses=self.medication.snapshot()
        )

    def restore(self, snapshot: RulesSnapshot, now: float | None = None) -> None:
        """Take back the state saved before a restart. Time the gateway was down (from
        ``saved_at`` to ``now``) is time it did not watch: past ``max_tick_gap_s`` it
        counts as no stillness, as a clock step does, and the stillness seen before
        keeps its place. (Counted, a power cut of an hour and a half made the district's
        gateway raise inactivity for seven residents it could not see.)"""
        self.inactivity.restore(snapshot.activity)
        self.medication.restore(snapshot.doses)
        if now is None:
            return
        blind = now - snapshot.saved_at
        if blind > self.max_tick_gap_s:
            log.info("rules: down for %.0f s; stillness is counted from before and after", blind)
            self.inactivity.shift(blind)

    def take_commands(self) -> list[BandCommand]:
        """Commands for bands produced since the last call."""
        commands, self._commands = self._commands, []
        return commands

    def take_suspected(self) -> list[FallSuspected]:
        """Falls suspected (confirmation windows opened) since the last call."""
        suspected, self.fall.suspected = self.fall.suspected, []
        return suspected

    def _fresh(self, device: str, kind: BandEventKind, origin: int) -> bool:
        last = self._handled.get((device, kind))
        if last is not None and origin <= last:
            return False
        self._handled[(device, kind)] = origin
        return True

    def _watch_clock(self, now: float) -> None:
        last, self._last_now = self._last_now, now
        if last is None:
            return
        step = now - last
        if step < 0 or step > self.max_tick_gap_s:
            self.clock_steps += 1
            log.warning("clock stepped by %+.1f s; rule spans keep their remaining time", step)
            self.fall.shift(step)
            self.inactivity.shift(step)
            self.device.shift(step)
