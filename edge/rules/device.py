"""The band itself: low battery (a threshold, and a downward trend that will reach it
soon), not worn, not seen.

- LOW_BATTERY: the status frame's battery at or below ``battery_low_pct`` (LOW) or
  ``battery_critical_pct`` (MEDIUM: a band about to die leaves its wearer unprotected);
  and, above the threshold, a discharge slope (least squares over the readings since
  the last charge) that reaches the low threshold within ``battery_warn_days`` (LOW,
  a band draining abnormally fast). Key: the level and the local date, so a band left
  low is reported once a day.
- NOT_WORN: the band says it is off the wrist for ``not_worn_s`` of active hours
  (taking it off to charge at night is normal). MEDIUM: the resident is unprotected.
  Key: when it came off, rounded down to 10 minutes.
- NOT_SEEN: no advert accepted for ``not_seen_s``. LOW: with several gateways, one
  not hearing a band may only mean the resident went out of its range; the fleet
  correlates the gateways. Key: the last time heard, rounded down to 10 minutes.
"""

from collections import deque
from dataclasses import dataclass, field

from contract import Event, EventKind, Severity
from edge.decode.profile import WristbandFrame
from edge.rules.actions import make_event
from edge.rules.clock import active_seconds, local
from edge.rules.config import RulesConfig

_KEY_ROUNDING_S = 600
# Status frames come every ~10 s; the trend needs days, so keep a reading per 10 min.
_SAMPLE_EVERY_S = 600
_HISTORY = 7 * 24 * 6 + 16
# A rise of this much means the band was charged (or its cell replaced): a new cycle.
_CHARGED_PCT = 5


@dataclass(slots=True)
class _BandHealth:
    last_seen: float
    battery: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    reported_levels: set[str] = field(default_factory=set)  # "critical:2026-05-01" ...
    off_since: float | None = None
    not_worn_reported: bool = False
    not_seen_reported: bool = False


def discharge_slope(readings: list[tuple[float, int]]) -> float | None:
    """Percent per second by least squares, or None if the readings cannot say."""
    n = len(readings)
    if n < 3:
        return None
    mt = sum(t for t, _ in readings) / n
    mb = sum(b for _, b in readings) / n
    var = sum((t - mt) ** 2 for t, _ in readings)
    if var <= 0:
        return None
    return sum((t - mt) * (b - mb) for t, b in readings) / var


class DeviceRule:
    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self._bands: dict[str, _BandHealth] = {}
        self._started: float | None = None

    def on_frame(self, frame: WristbandFrame, now: float, cfg: RulesConfig) -> list[Event]:
        band = self._bands.get(frame.address)
        if band is None:
            band = self._bands[frame.address] = _BandHealth(now)
        band.last_seen = now
        band.not_seen_reported = False
        if not frame.is_status:
            return []
        if frame.worn is False and band.off_since is None:
            band.off_since = now
        elif frame.worn:
            band.off_since = None
            band.not_worn_reported = False
        assert frame.battery is not None
        return self._battery(frame.address, band, frame.battery, now, cfg)

    def on_tick(self, now: float, cfg: RulesConfig) -> list[Event]:
        if self._started is None:
            self._started = now
        dev = cfg.rules.device
        for device in cfg.bands:
            # A configured band never heard: count from when the rules started.
            self._bands.setdefault(device, _BandHealth(self._started))
        events = []
        for device, band in self._bands.items():
            silent = now - band.last_seen
            if not band.not_seen_reported and silent >= dev.not_seen_s:
                band.not_seen_reported = True
                events.append(
                    self._event(
                        EventKind.NOT_SEEN,
                        Severity.LOW,
                        device,
                        key=int(band.last_seen // _KEY_ROUNDING_S * _KEY_ROUNDING_S),
                        occurred_at=band.last_seen,
                        now=now,
                        evidence={"last_seen_at": band.last_seen, "silent_s": round(silent)},
                    )
                )
            if band.off_since is not None and not band.not_worn_reported:
                hours = cfg.active_hours(device)
                off = active_seconds(band.off_since, now, hours, cfg.rules.tz)
                if off >= dev.not_worn_s:
                    band.not_worn_reported = True
                    events.append(
                        self._event(
                            EventKind.NOT_WORN,
                            Severity.MEDIUM,
                            device,
                            key=int(band.off_since // _KEY_ROUNDING_S * _KEY_ROUNDING_S),
                            occurred_at=band.off_since,
                            now=now,
                            evidence={"off_since": band.off_since, "off_active_s": round(off)},
                        )
                    )
        return events

    def shift(self, delta: float) -> None:
        if self._started is not None:
            self._started += delta
        for band in self._bands.values():
            band.last_seen += delta
            if band.off_since is not None:
                band.off_since += delta
            band.battery = deque(((t + delta, b) for t, b in band.battery), maxlen=_HISTORY)

    def _battery(
        self, device: str, band: _BandHealth, pct: int, now: float, cfg: RulesConfig
    ) -> list[Event]:
        dev = cfg.rules.device
        history = band.battery
        if history and pct >= history[-1][1] + _CHARGED_PCT:
            history.clear()  # charged: a new discharge cycle
        if not history or pct != history[-1][1] or now - history[-1][0] >= _SAMPLE_EVERY_S:
            history.append((now, pct))
        while history and now - history[0][0] > dev.battery_trend_window_s:
            history.popleft()
        day = local(now, cfg.rules.tz).date().isoformat()
        evidence: dict[str, object] = {"battery_pct": pct}
        level = None
        if pct <= dev.battery_critical_pct:
            level, severity = "critical", Severity.MEDIUM
        elif pct <= dev.battery_low_pct:
            level, severity = "low", Severity.LOW
        else:
            slope = self._slope(history, dev.battery_trend_min_span_s)
            if slope is not None and slope < 0:
                days_left = (pct - dev.battery_low_pct) / -slope / 86400
                if days_left <= dev.battery_warn_days:
                    level, severity = "trend", Severity.LOW
                    evidence |= {
                        "pct_per_day": round(slope * 86400, 2),
                        "days_to_low": round(days_left, 1),
                    }
        if level is None:
            return []
        key = f"{level}:{day}"
        if key in band.reported_levels:
            return []
        band.reported_levels = {k for k in band.reported_levels if k.endswith(day)} | {key}
        evidence["level"] = level
        return [
            self._event(
                EventKind.LOW_BATTERY,
                severity,
                device,
                key=key,
                occurred_at=now,
                now=now,
                evidence=evidence,
            )
        ]

    @staticmethod
    def _slope(history: deque[tuple[float, int]], min_span_s: float) -> float | None:
        if len(history) < 3 or history[-1][0] - history[0][0] < min_span_s:
            return None
        return discharge_slope(list(history))

    def _event(
        self,
        kind: EventKind,
        severity: Severity,
        device: str,
        *,
        key: str | int,
        occurred_at: float,
        now: float,
        evidence: dict[str, object],
    ) -> Event:
        return make_event(
            kind,
            severity,
            device=device,
            gateway=self.gateway_id,
            key=key,
            occurred_at=occurred_at,
            detected_at=now,
            evidence=evidence,
        )
