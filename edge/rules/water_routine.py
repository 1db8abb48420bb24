"""Water: the morning's first use, and water that does not stop (pure, clock passed in).

* **No water by the usual time.** Each flat's first water use of the day (the water day
  starts at ``day_starts_at_h``) is remembered; the usual time is a high quantile of
  the past ``history_days`` first uses. When the grace period after it passes with no
  water drawn, one ``no_water`` event per day (id keyed by the flat and the date).
* **Water running.** Consecutive readings that each show flow above
  ``water_min_flow_m3h`` form a span; when it lasts ``water_running_s``, one
  ``water_running`` event (id keyed by the meter and the span's start).

Nothing is concluded from a meter that is not reporting: that is meter_offline's job.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contract import Event, EventKind, Severity
from edge.rules.routine_settings import RoutineSettings

_DRAWN_M3 = 0.0005  # half a litre: below a meter's 1-litre resolution, above float noise
# What a register may fail to show between two polls: its 1-litre step, twice (the
# reading before may have been just short of a step, the one after just past one).
_REGISTER_STEP_M3 = 0.002


@dataclass(slots=True)
class WaterMeterState:
    flat: str
    last_ts: float | None = None
    last_volume: float | None = None
    # The earliest moment the latest use seen can have been: a register that moved
    # between two readings says "some time after the first of them".
    last_use: float | None = None
    running_since: float | None = None
    running_volume: float = 0.0  # the register when the span started
    running_raised: float | None = None  # the span already reported
    # Start of the current unbroken run of readings: a day's first use is only known
    # if the meter was reporting when the day began.
    stream_start: float | None = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "last_ts": self.last_ts,
            "last_volume": self.last_volume,
            "last_use": self.last_use,
            "running_since": self.running_since,
            "running_volume": self.running_volume,
            "running_raised": self.running_raised,
            "stream_start": self.stream_start,
        }


@dataclass(slots=True)
class FlatWater:
    first_use: dict[str, float] = field(default_factory=dict)  # day -> s after day start
    alerted: set[str] = field(default_factory=set)  # days with a no_water event
    partial: set[str] = field(default_factory=set)  # days the meter joined late: no lesson


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile: an actual past value, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def clock_text(seconds_after_start: float, start_h: float) -> str:
    minutes = int((seconds_after_start / 60 + start_h * 60) % (24 * 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class WaterRoutine:
    def __init__(self, settings: RoutineSettings, gateway_id: str, meters: dict[str, str]) -> None:
        """``meters``: water meter id -> flat id."""
        self.settings = settings
        self.gateway_id = gateway_id
        self._tz = ZoneInfo(settings.timezone)
        self._start = timedelta(hours=settings.day_starts_at_h)
        self.meters = {meter: WaterMeterState(flat) for meter, flat in meters.items()}
        self.flats = {flat: FlatWater() for flat in meters.values()}

    def water_day(self, ts: float) -> tuple[str, float]:
        """(the water day, seconds since it started) for a Unix time."""
        shifted = datetime.fromtimestamp(ts, self._tz) - self._start
        since = shifted.hour * 3600 + shifted.minute * 60 + shifted.second
        return shifted.date().isoformat(), since + shifted.microsecond / 1e6

    def _day_start(self, day: str) -> float:
        midnight = datetime.combine(date.fromisoformat(day), datetime.min.time(), self._tz)
        return (midnight + self._start).timestamp()

    # -- readings ----------------------------------------------------------------------

    def on_reading(self, meter: str, ts: float, fields: dict[str, float]) -> list[Event]:
        state = self.meters.get(meter)
        if state is None:
            return []
        volume = fields.get("volume_m3")
        flow = fields.get("flow_m3h")
        previous_ts, previous_volume = state.last_ts, state.last_volume
        if previous_ts is not None and ts <= previous_ts:
            return []  # a repeat or out of order: nothing new
        state.last_ts, state.last_volume = ts, volume
        if previous_ts is None or ts - previous_ts > self.settings.water_max_gap_s:
            state.stream_start = ts
        if previous_ts is None:
            return []
        dt = ts - previous_ts
        if volume is not None and previous_volume is not None:
            drawn = volume - previous_volume
            if drawn < -_DRAWN_M3:
                state.running_since = None  # register reset or meter replaced
                return []
            rate = drawn / dt * 3600
            # Either witness will do: a register counting whole litres can stand still
            # between close polls while water runs, and a flow reading is a snapshot
            # that can miss a tap closed just before the poll. But a snapshot is only
            # a witness where the register could hide the flow: polls far apart where
            # the register moved less than the minimum flow would have drawn saw a
            # tap that was on at the poll, not water running all along (a kitchen tap
            # on at two polls 30 minutes apart, 10 litres drawn, is not a running tap).
            minimum = self.settings.water_min_flow_m3h
            hidden = minimum * dt / 3600 < _REGISTER_STEP_M3
            flowing = rate >= minimum or (flow is not None and flow >= minimum and hidden)
            if drawn >= _DRAWN_M3:
                self._used(state, ts, earliest=previous_ts)
        else:
            flowing = flow is not None and flow >= self.settings.water_min_flow_m3h
            if flowing:
                self._used(state, ts, earliest=ts)
        if not flowing or dt > self.settings.water_max_gap_s:
            state.running_since = None
            return []
        if state.running_since is None:
            state.running_since = previous_ts
            state.running_volume = previous_volume or 0.0
        running_s = ts - state.running_since
        if running_s < self.settings.water_running_s or state.running_raised == state.running_since:
            return []
        state.running_raised = state.running_since
        litres = ((volume or 0.0) - state.running_volume) * 1000 if volume is not None else None
        return [
            Event.incident(
                EventKind.WATER_RUNNING,
                Severity.HIGH,
                device=meter,
                key=round(state.running_since),
                gateway=self.gateway_id,
                occurred_at=state.running_since,
                detected_at=ts,
                evidence={
                    "flat": state.flat,
                    "running_s": round(running_s),
                    "litres": round(litres) if litres is not None else None,
                    "flow_m3h": round(flow, 3) if flow is not None else None,
                },
            )
        ]

    def _used(self, state: WaterMeterState, ts: float, *, earliest: float) -> None:
        state.last_use = earliest
        day, since = self.water_day(ts)
        water = self.flats[state.flat]
        if day not in water.first_use:
            water.first_use[day] = since
            if not self._covered(state, day):
                water.partial.add(day)
            self._prune(state.flat, day)

    def _covered(self, state: WaterMeterState, day: str) -> bool:
        return state.stream_start is not None and state.stream_start <= self._day_start(day)

    def _prune(self, flat: str, today: str) -> None:
        oldest = (
            date.fromisoformat(today) - timedelta(days=self.settings.history_days)
        ).isoformat()
        water = self.flats[flat]
        for day in [d for d in water.first_use if d < oldest]:
            del water.first_use[day]
        water.alerted = {d for d in water.alerted if d >= oldest}
        water.partial = {d for d in water.partial if d >= oldest}

    # -- the clock ---------------------------------------------------------------------

    def on_tick(self, now: float) -> list[Event]:
        events = []
        day, since = self.water_day(now)
        for flat, water in self.flats.items():
            if day in water.first_use or day in water.alerted:
                continue
            skip = water.alerted | water.partial | {day}
            history = [s for d, s in water.first_use.items() if d not in skip]
            # No past morning at all is no "usual time", whatever the warm-up says.
            if not history or len(history) < self.settings.warmup_days:
                continue
            deadline = quantile(history, self.settings.no_water_quantile)
            deadline += self.settings.no_water_grace_s
            if since < deadline or not self.reporting(flat, now):
                continue
            if not any(self._covered(s, day) for s in self.meters.values() if s.flat == flat):
                continue  # the meter joined after the day began: it may have missed the use
            water.alerted.add(day)
            meters = sorted(m for m, s in self.meters.items() if s.flat == flat)
            start_h = self.settings.day_starts_at_h
            events.append(
                # The flat's first water meter (sorted ids: the same one on every
                # retry) names the incident; one per flat and day.
                Event.incident(
                    EventKind.NO_WATER,
                    Severity.HIGH,
                    device=meters[0],
                    key=day,
                    gateway=self.gateway_id,
                    occurred_at=self._day_start(day) + deadline,
                    detected_at=now,
                    evidence={
                        "flat": flat,
                        "day": day,
                        "usual_first_use": clock_text(
                            deadline - self.settings.no_water_grace_s, start_h
                        ),
                        "deadline": clock_text(deadline, start_h),
                        "history_days": len(history),
                        "meters": ",".join(meters),
                    },
                )
            )
        return events

    # -- evidence for other rules ----------------------------------------------------------

    def reporting(self, flat: str, now: float) -> bool:
        return any(
            s.flat == flat
            and s.last_ts is not None
            and now - s.last_ts <= self.settings.stale_after_s
            for s in self.meters.values()
        )

    def used_within(self, flat: str, now: float, span_s: float) -> bool | None:
        if flat not in self.flats or not self.reporting(flat, now):
            return None
        return any(
            s.flat == flat and s.last_use is not None and s.last_use >= now - span_s
            for s in self.meters.values()
        )

    # -- persistence -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "meters": {m: s.snapshot() for m, s in self.meters.items()},
            "flats": {
                f: {
                    "first_use": dict(w.first_use),
                    "alerted": sorted(w.alerted),
                    "partial": sorted(w.partial),
                }
                for f, w in self.flats.items()
            },
        }

    def restore(self, data: dict[str, Any]) -> None:
        for meter, saved in data.get("meters", {}).items():
            state = self.meters.get(meter)
            if state is None:
                continue  # a meter no longer configured
            for name in (
                "last_ts",
                "last_volume",
                "last_use",
                "running_since",
                "running_volume",
                "running_raised",
                "stream_start",
            ):
                value = saved.get(name)
                setattr(state, name, float(value) if value is not None else None)
            if state.running_volume is None:
                state.running_volume = 0.0
        for flat, saved in data.get("flats", {}).items():
            water = self.flats.get(flat)
            if water is None:
                continue
            water.first_use = {str(d): float(s) for d, s in saved.get("first_use", {}).items()}
            water.alerted = {str(d) for d in saved.get("alerted", [])}
            water.partial = {str(d) for d in saved.get("partial", [])}
