"""Power: long spans at the flat's idle level when it would usually be in use (pure).

Readings are averaged in fixed windows (``power_window_s``). The flat's idle level is
the median window at night (fridge and standby); a window is "in use" when its mean is
``power_margin_w`` above that. From the past ``history_days`` of windows each meter
learns, for every window of the week (Monday 07:00-07:30 ...), how often the flat is
in use then — shrunk toward the same time on other days while a week has little
history. The time since the last window in use is an "idle span"; the profile says
how much use would have been usual during it. When the span is at least
``no_power_min_span_s`` and the usual use in it reaches ``no_power_expected_active_s``,
one ``no_power_use`` event (id keyed by the meter and the span's start).

Only windows with readings count: a silent meter adds no evidence of idleness.
"""

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from contract import Event, EventKind, Severity
from edge.rules.routine_settings import RoutineSettings

_SHRINK = 2.0  # weight, in weeks, of the same-time-of-day estimate in a week slot's
_MIN_NIGHT_WINDOWS = 4  # before this, the idle level is unknown and nothing is judged
_RECOUNT_W = 2.0  # recount the profile when the idle level has moved this much
# Readings this far apart are judged by the energy register's difference (0.01 kWh
# over 10 minutes is a resolution of 60 W, the rule's margin) rather than the instant.
_FROM_REGISTER_AFTER_S = 600.0


@dataclass(frozen=True, slots=True)
class Window:
    slot: int  # floor(start / window length)
    mean_w: float
    week_slot: int  # which window of the local week
    day_slot: int  # which window of the local day
    night: bool


@dataclass(slots=True)
class PowerMeterState:
    flat: str
    first_ts: float | None = None
    last_ts: float | None = None
    last_energy: tuple[float, float] | None = None  # (ts, kWh)
    slot: int | None = None  # the window being filled
    slot_sum: float = 0.0
    slot_n: int = 0
    history: deque[Window] = field(default_factory=deque)
    idle_w: float | None = None
    week_counts: dict[int, tuple[int, int]] = field(default_factory=dict)  # slot -> (n, in use)
    day_counts: dict[int, tuple[int, int]] = field(default_factory=dict)
    counted_at: float | None = None  # the threshold the counts were made with
    last_active_end: float | None = None
    span_usual_s: float = 0.0  # usual in-use time within the current idle span
    raised_for: float | None = None  # span start already reported


class PowerRoutine:
    def __init__(self, settings: RoutineSettings, gateway_id: str, meters: dict[str, str]) -> None:
        """``meters``: electricity meter id -> flat id."""
        self.settings = settings
        self.gateway_id = gateway_id
        self._tz = ZoneInfo(settings.timezone)
        self._w = settings.power_window_s
        self.meters = {meter: PowerMeterState(flat) for meter, flat in meters.items()}

    # -- windows -----------------------------------------------------------------------

    def _window(self, slot: int, mean_w: float) -> Window:
        start = datetime.fromtimestamp(slot * self._w, self._tz)
        of_day = start.hour * 3600 + start.minute * 60 + start.second
        first, last = self.settings.night_hours
        return Window(
            slot,
            mean_w,
            week_slot=int((start.weekday() * 86400 + of_day) // self._w),
            day_slot=int(of_day // self._w),
            night=first <= start.hour < last,
        )

    def threshold(self, state: PowerMeterState) -> float | None:
        return None if state.idle_w is None else state.idle_w + self.settings.power_margin_w

    def usual_use(self, state: PowerMeterState, window: Window) -> float:
        """How often this window of the week is in use, from the flat's history."""
        day_n, day_a = state.day_counts.get(window.day_slot, (0, 0))
        week_n, week_a = state.week_counts.get(window.week_slot, (0, 0))
        if day_n == 0:
            # A time of day never seen says nothing about what is usual. After the
            # warm-up every time of day has been seen; before it (a site that set
            # warmup_days=0) the prior alone would make a quiet first morning an alert.
            return 0.0
        of_day = (day_a + 0.5) / (day_n + 1)
        return (week_a + _SHRINK * of_day) / (week_n + _SHRINK)

    def _learn(self, state: PowerMeterState, added: Window | None, dropped: list[Window]) -> None:
        """Update the idle level and the profile for one window in, some windows out."""
        nights = [w.mean_w for w in state.history if w.night]
        state.idle_w = median(nights) if len(nights) >= _MIN_NIGHT_WINDOWS else None
        threshold = self.threshold(state)
        if threshold is None:
            state.week_counts, state.day_counts, state.counted_at = {}, {}, None
            return
        if state.counted_at is None or abs(threshold - state.counted_at) > _RECOUNT_W:
            # The idle level moved: every past window's "in use" may change. Count anew.
            state.week_counts, state.day_counts = {}, {}
            state.counted_at = threshold
            for w in state.history:
                self._count(state, w, +1)
            return
        if added is not None:
            self._count(state, added, +1)
        for w in dropped:
            self._count(state, w, -1)

    @staticmethod
    def _count(state: PowerMeterState, w: Window, sign: int) -> None:
        assert state.counted_at is not None
        used = int(w.mean_w > state.counted_at) * sign
        n, a = state.week_counts.get(w.week_slot, (0, 0))
        state.week_counts[w.week_slot] = (n + sign, a + used)
        n, a = state.day_counts.get(w.day_slot, (0, 0))
        state.day_counts[w.day_slot] = (n + sign, a + used)

    def _close(self, meter: str, state: PowerMeterState) -> list[Event]:
        assert state.slot is not None
        window = self._window(state.slot, state.slot_sum / state.slot_n)
        threshold = self.threshold(state)
        if threshold is not None:
            if window.mean_w > threshold:
                state.last_active_end = (window.slot + 1) * self._w
                state.span_usual_s = 0.0
            else:
                state.span_usual_s += self.usual_use(state, window) * self._w
        state.history.append(window)
        oldest = window.slot - self.settings.history_days * 86400 / self._w
        dropped = []
        while state.history and state.history[0].slot < oldest:
            dropped.append(state.history.popleft())
        self._learn(state, window, dropped)
        return self._check(meter, state, (window.slot + 1) * self._w)

    def _check(self, meter: str, state: PowerMeterState, now: float) -> list[Event]:
        s = self.settings
        if state.idle_w is None or state.first_ts is None:
            return []
        if now - state.first_ts < s.warmup_days * 86400:
            return []
        start = state.last_active_end if state.last_active_end is not None else state.first_ts
        span = now - start
        if span < s.no_power_min_span_s or state.span_usual_s < s.no_power_expected_active_s:
            return []
        if state.raised_for == start:
            return []
        state.raised_for = start
        return [
            Event.incident(
                EventKind.NO_POWER_USE,
                Severity.MEDIUM,
                device=meter,
                key=round(start),
                gateway=self.gateway_id,
                occurred_at=start,
                detected_at=now,
                evidence={
                    "flat": state.flat,
                    "idle_s": round(span),
                    "usual_use_s": round(state.span_usual_s),
                    "idle_w": round(state.idle_w, 1),
                    "threshold_w": round(state.idle_w + s.power_margin_w, 1),
                },
            )
        ]

    # -- readings ----------------------------------------------------------------------

    def on_reading(self, meter: str, ts: float, fields: dict[str, float]) -> list[Event]:
        state = self.meters.get(meter)
        if state is None or (state.last_ts is not None and ts <= state.last_ts):
            return []
        power = fields.get("power_w")
        energy = fields.get("energy_kwh")
        at = ts  # the moment the sample stands for: its window
        if energy is not None and state.last_energy is not None:
            then, before = state.last_energy
            # Polled seldom (a long bus, a busy gateway), the instant power is a sample
            # that misses a half-hour of cooking as often as not; the register's
            # difference is what was drawn in between. Polled often, the register's
            # resolution (0.01 kWh on many meters) is too coarse, so the instant wins.
            seldom = power is None or ts - then >= _FROM_REGISTER_AFTER_S
            if seldom and energy >= before:  # else the register was reset: as it stands
                power = (energy - before) * 3.6e6 / (ts - then)
                # Counted in the window the interval began in, so use is placed no
                # later than it happened: the inactivity rule's witness (windows that
                # began after the last movement) is never told of cooking that came
                # before a fall.
                at = then
        if energy is not None:
            state.last_energy = (ts, energy)
        state.last_ts = ts
        if state.first_ts is None:
            state.first_ts = ts
        if power is None or not math.isfinite(power):
            return []
        events: list[Event] = []
        slot = math.floor(at / self._w)
        if state.slot is not None and slot != state.slot and state.slot_n:
            events = self._close(meter, state)
        if slot != state.slot:
            state.slot, state.slot_sum, state.slot_n = slot, 0.0, 0
        state.slot_sum += max(power, 0.0)  # a meter's sign for export is not use
        state.slot_n += 1
        return events

    # -- evidence for other rules ----------------------------------------------------------

    def active_within(self, flat: str, now: float, span_s: float) -> bool | None:
        answers = []
        for state in self.meters.values():
            threshold = self.threshold(state)
            if state.flat != flat or threshold is None or state.last_ts is None:
                continue
            if now - state.last_ts > self.settings.stale_after_s:
                continue
            # Only windows that began inside the span: use in a window that began
            # before it may have ended before it too (cooking, then a fall at 11:18,
            # is not evidence of anyone about after 11:18).
            since = now - span_s
            recent = state.last_active_end is not None and state.last_active_end - self._w >= since
            filling = state.slot_n > 0 and state.slot_sum / state.slot_n > threshold
            answers.append(
                recent or (filling and state.slot is not None and state.slot * self._w >= since)
            )
        return any(answers) if answers else None

    # -- persistence -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            meter: {
                "first_ts": s.first_ts,
                "last_ts": s.last_ts,
                "last_energy": list(s.last_energy) if s.last_energy else None,
                "slot": s.slot,
                "slot_sum": s.slot_sum,
                "slot_n": s.slot_n,
                "history": _pack(s.history),
                "last_active_end": s.last_active_end,
                "span_usual_s": s.span_usual_s,
                "raised_for": s.raised_for,
            }
            for meter, s in self.meters.items()
        }

    def restore(self, data: dict[str, Any]) -> None:
        for meter, saved in data.items():
            state = self.meters.get(meter)
            if state is None:
                continue
            state.first_ts = _opt_float(saved.get("first_ts"))
            state.last_ts = _opt_float(saved.get("last_ts"))
            energy = saved.get("last_energy")
            state.last_energy = (float(energy[0]), float(energy[1])) if energy else None
            state.slot = int(saved["slot"]) if saved.get("slot") is not None else None
            state.slot_sum = float(saved.get("slot_sum", 0.0))
            state.slot_n = int(saved.get("slot_n", 0))
            state.history = deque(
                self._window(slot, mean) for slot, mean in _unpack(saved.get("history"))
            )
            state.last_active_end = _opt_float(saved.get("last_active_end"))
            state.span_usual_s = float(saved.get("span_usual_s", 0.0))
            state.raised_for = _opt_float(saved.get("raised_for"))
            state.counted_at = None
            self._learn(state, None, [])


def _opt_float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _pack(history: deque[Window]) -> dict[str, Any] | None:
    """Windows as a first slot and a list of means (None for a window without readings):
    a month of half hours in about 8 kB instead of 27."""
    if not history:
        return None
    first = history[0].slot
    means: list[float | None] = [None] * (history[-1].slot - first + 1)
    for w in history:
        means[w.slot - first] = round(w.mean_w, 1)
    return {"first": first, "means": means}


def _unpack(packed: Any) -> list[tuple[int, float]]:
    if not packed:
        return []
    first = int(packed["first"])
    return [(first + i, float(m)) for i, m in enumerate(packed["means"]) if m is not None]
