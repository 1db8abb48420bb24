"""Inactivity: no movement at the wrist for a span inside the resident's active hours.

Only time inside the active hours counts, so a night's sleep is not inactivity, but
someone who stopped moving at 20:00 and still has not moved an hour after getting-up
time is. The flat's meters are the second witness: no water and no power drawn either
raises the severity; use of either lowers it (the resident is up and about and may
have taken the band off).

Event id key: the time of the last movement, rounded down to 10 minutes - the same on
every gateway that heard the band (their views of the last moving advert differ by a
second or so) and the same for every tick of one incident.
"""

from collections.abc import Callable
from dataclasses import dataclass

from contract import Event, EventKind, Severity
from contract.careplan import ActiveHours
from edge.decode.profile import WristbandFrame
from edge.rules.actions import make_event
from edge.rules.clock import active_seconds, is_active
from edge.rules.config import RulesConfig
from edge.rules.snapshot import BandActivityState
from edge.rules.usage import UsageSummary

# (flat, now, span_s) -> what the flat's meters say about use within the span.
UsageProvider = Callable[[str, float, float], UsageSummary]

_KEY_ROUNDING_S = 600
_LOWER = {Severity.HIGH: Severity.MEDIUM, Severity.MEDIUM: Severity.LOW, Severity.LOW: Severity.LOW}


def no_usage_evidence(flat: str, now: float, span_s: float) -> UsageSummary:
    return UsageSummary()


def severity_from_usage(usage: UsageSummary, worn: bool | None) -> Severity:
    used = usage.water is True or usage.power is True
    unused = (usage.water is False or usage.power is False) and not used
    severity = Severity.HIGH if unused else Severity.LOW if used else Severity.MEDIUM
    if worn is False:
        severity = _LOWER[severity]  # the band lies on a table: its stillness says less
    return severity


@dataclass(slots=True)
class _BandActivity:
    last_move: float
    steps: int | None = None
    worn: bool | None = None
    reported: bool = False


class InactivityRule:
    def __init__(self, gateway_id: str, usage: UsageProvider = no_usage_evidence) -> None:
        self.gateway_id = gateway_id
        self.usage = usage
        self._bands: dict[str, _BandActivity] = {}

    def last_movement(self, device: str) -> float | None:
        band = self._bands.get(device)
        return band.last_move if band else None

    def on_frame(self, frame: WristbandFrame, now: float) -> None:
        band = self._bands.get(frame.address)
        if band is None:
            # Heard for the first time (or since a restart): count from now.
            band = self._bands[frame.address] = _BandActivity(now)
        moved = bool(frame.moving)
        if frame.is_status:
            if frame.worn is not None:
                band.worn = frame.worn
            if frame.steps is not None:
                moved = band.steps is not None and frame.steps != band.steps
                band.steps = frame.steps
        if moved:
            band.last_move = now
            band.reported = False

    def on_tick(self, now: float, cfg: RulesConfig) -> list[Event]:
        events = []
        tz = cfg.rules.tz
        active: dict[ActiveHours, bool] = {}  # per tick: most residents share their hours
        for device, band in self._bands.items():
            span = cfg.inactivity_span_s(device)
            # Active time never exceeds elapsed time: most bands are out here, cheaply.
            if band.reported or now - band.last_move < span:
                continue
            hours = cfg.active_hours(device)
            if hours not in active:
                active[hours] = is_active(now, hours, tz)
            if not active[hours]:
                continue
            inactive = active_seconds(band.last_move, now, hours, tz)
            if inactive < span:
                continue
            band.reported = True
            events.append(self._event(device, band, now=now, inactive=inactive, span=span, cfg=cfg))
        return events

    def shift(self, delta: float) -> None:
        for band in self._bands.values():
            band.last_move += delta

    def snapshot(self) -> list[BandActivityState]:
        return [
            BandActivityState(
                device=device,
                last_move=band.last_move,
                steps=band.steps,
                worn=band.worn,
                reported=band.reported,
            )
            for device, band in self._bands.items()
        ]

    def restore(self, states: list[BandActivityState]) -> None:
        for s in states:
            self._bands[s.device] = _BandActivity(s.last_move, s.steps, s.worn, s.reported)

    def _event(
        self,
        device: str,
        band: _BandActivity,
        *,
        now: float,
        inactive: float,
        span: float,
        cfg: RulesConfig,
    ) -> Event:
        flat = cfg.flat_of(device)
        meter_span = cfg.rules.inactivity.meter_span_s or span
        usage = self.usage(flat, now, meter_span) if flat else UsageSummary()
        evidence = {
            "last_movement_at": band.last_move,
            "inactive_s": round(inactive),
            "span_s": span,
            "active_hours": str(cfg.active_hours(device)),
            "water_used": usage.water,
            "power_used": usage.power,
            "meter_span_s": meter_span,
            "worn": band.worn,
        }
        if flat:
            evidence["flat"] = flat
        return make_event(
            EventKind.INACTIVITY,
            severity_from_usage(usage, band.worn),
            device=device,
            gateway=self.gateway_id,
            key=int(band.last_move // _KEY_ROUNDING_S * _KEY_ROUNDING_S),
            occurred_at=band.last_move,
            detected_at=now,
            evidence=evidence,
        )
