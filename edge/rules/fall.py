"""Falls: suspected from the band's own fall flag or from the motion summaries, then a
confirmation window in which a short press cancels.

A pure state machine per band, clock passed in. A fall is *suspected* when

- a frame carries the band's fall flag (its full-rate detector fired), or
- the summaries show an impact (peak >= ``impact_g``), then, within
  ``settle_within_s``, the wrist held still for ``still_s`` in a posture that differs
  from the posture before the impact by ``posture_change_deg`` or more.

Then the window opens (``confirm_window_s``). A short press sent by the band after the
fall began, received before the window closes, cancels: a low-severity FALL_CANCELLED
event goes out (caregivers want to know about near-misses). Otherwise the window
closes with a critical FALL event.

Event ids: ``uuid5(mac | kind | key)`` where ``key`` is the origin counter of the fall
flag (the AES-CCM counter of the advert that first carried it, the same for every copy
and every gateway) or, for a fall seen only in the summaries, the counter of the
advert that carried the impact. When both see one fall the flag's key wins, so a
gateway that missed the impact advert still gives the same id.
"""

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from contract import Event, EventKind, Severity
from contract.rules import FallSettings
from edge.decode.profile import BandEventKind, WristbandFrame
from edge.rules.actions import make_event

Vector = tuple[float, float, float]
# Summaries kept per band for the posture before an impact (FallSettings.before_s at
# one advert a second, with room to spare); 867 bands x 16 small objects.
_RECENT = 16


def gravity(tilt_deg: float, roll_deg: float | None) -> Vector:
    """Unit gravity direction in the band from its tilt and roll (tilt alone if the
    band sends no roll: then posture changes about the forearm go unseen)."""
    t = math.radians(tilt_deg)
    r = math.radians(roll_deg or 0.0)
    return (-math.sin(t), math.cos(t) * math.sin(r), math.cos(t) * math.cos(r))


def angle_deg(a: Vector, b: Vector) -> float:
    na = math.sqrt(sum(v * v for v in a))
    nb = math.sqrt(sum(v * v for v in b))
    if na < 1e-9 or nb < 1e-9:
        return 0.0
    cos = sum(p * q for p, q in zip(a, b, strict=True)) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _mean(vectors: list[Vector]) -> Vector:
    n = len(vectors)
    return (
        sum(v[0] for v in vectors) / n,
        sum(v[1] for v in vectors) / n,
        sum(v[2] for v in vectors) / n,
    )


@dataclass(slots=True)
class _Posture:
    """One summary as the rule keeps it (the gravity vector is worked out only when an
    impact needs the posture before it: most adverts never need it)."""

    at: float
    tilt_deg: float
    roll_deg: float | None
    moving: bool

    @property
    def g(self) -> Vector:
        return gravity(self.tilt_deg, self.roll_deg)


@dataclass(slots=True)
class _Impact:
    counter: int
    at: float
    peak_g: float
    before: Vector
    still_since: float | None = None
    still: list[Vector] = field(default_factory=list)


@dataclass(slots=True)
class _Suspicion:
    key: int  # flag origin counter, or the impact advert's counter
    started_counter: int  # presses sent by the band after this cancel
    suspected_at: float
    deadline: float
    source: str  # "band" (fall flag) or "summaries"
    evidence: dict[str, Any]


@dataclass(slots=True)
class _BandFalls:
    # The summaries of the last ``before_s``; bands advertise about once a second.
    recent: deque[_Posture] = field(default_factory=lambda: deque(maxlen=_RECENT))
    impact: _Impact | None = None
    suspicion: _Suspicion | None = None
    last_flag: int = -1  # origin counter of the newest fall flag handled


@dataclass(frozen=True, slots=True)
class FallSuspected:
    """The moment the rule flags a fall (the window opens): for the evaluation."""

    device: str
    at: float
    key: int
    source: str


class FallRule:
    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self._bands: dict[str, _BandFalls] = {}
        self.suspected: list[FallSuspected] = []  # every window opened (drained by callers)

    def window_open(self, device: str) -> bool:
        band = self._bands.get(device)
        return band is not None and band.suspicion is not None

    def on_frame(self, frame: WristbandFrame, now: float, cfg: FallSettings) -> list[Event]:
        band = self._bands.get(frame.address)
        if band is None:
            band = self._bands[frame.address] = _BandFalls()
        events = self._expire(frame.address, band, now) if band.suspicion is not None else []
        event = frame.event
        if event is not None and event.kind is BandEventKind.FALL_FLAG:
            self._on_flag(frame, band, event.origin_counter, now, cfg)
        if frame.tilt_deg is not None and cfg.summary_detection:
            self._on_summary(frame, band, now, cfg)
        return events

    def on_press(self, frame: WristbandFrame, origin: int, now: float) -> list[Event]:
        """A fresh short press: cancels an open window if the band sent it after the
        fall began. Returns the FALL_CANCELLED event, or nothing if no window took it."""
        band = self._bands.get(frame.address)
        if band is None:
            return []
        events = self._expire(frame.address, band, now)
        s = band.suspicion
        if s is None or origin <= s.started_counter:
            return events
        band.suspicion = None
        band.impact = None
        evidence = {
            **s.evidence,
            "source": s.source,
            "suspected_at": s.suspected_at,
            "cancelled_at": now,
            "press_origin_counter": origin,
        }
        events.append(self._event(frame.address, EventKind.FALL_CANCELLED, s, now, evidence))
        return events

    def on_tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        for device, band in self._bands.items():
            events += self._expire(device, band, now)
        return events

    def shift(self, delta: float) -> None:
        """The wall clock stepped by ``delta``: keep every remaining span as it was."""
        for band in self._bands.values():
            for p in band.recent:
                p.at += delta
            if band.impact is not None:
                band.impact.at += delta
                if band.impact.still_since is not None:
                    band.impact.still_since += delta
            if band.suspicion is not None:
                band.suspicion.suspected_at += delta
                band.suspicion.deadline += delta

    # -- suspicion ---------------------------------------------------------------------

    def _on_flag(
        self, frame: WristbandFrame, band: _BandFalls, origin: int, now: float, cfg: FallSettings
    ) -> None:
        if origin <= band.last_flag:
            return  # another copy of a flag already handled
        band.last_flag = origin
        evidence = {
            "flag_origin_counter": origin,
            "flag_copy_age": frame.counter - origin,
            "rssi": frame.rssi,
        }
        if band.suspicion is not None:
            # The summaries saw this fall first; the flag's key is the one every
            # gateway can compute, so the incident takes it.
            band.suspicion.key = origin
            band.suspicion.evidence.update(evidence)
            return
        self._open(
            frame.address,
            band,
            key=origin,
            started_counter=origin,
            now=now,
            cfg=cfg,
            source="band",
            evidence=evidence,
        )

    def _open(
        self,
        device: str,
        band: _BandFalls,
        *,
        key: int,
        started_counter: int,
        now: float,
        cfg: FallSettings,
        source: str,
        evidence: dict[str, Any],
    ) -> None:
        band.suspicion = _Suspicion(
            key, started_counter, now, now + cfg.confirm_window_s, source, evidence
        )
        band.impact = None
        self.suspected.append(FallSuspected(device, now, key, source))

    def _expire(self, device: str, band: _BandFalls, now: float) -> list[Event]:
        s = band.suspicion
        if s is None or now < s.deadline:
            return []
        band.suspicion = None
        evidence = {
            **s.evidence,
            "source": s.source,
            "suspected_at": s.suspected_at,
            "window_s": round(s.deadline - s.suspected_at, 3),
        }
        return [self._event(device, EventKind.FALL, s, now, evidence)]

    def _event(
        self, device: str, kind: EventKind, s: _Suspicion, now: float, evidence: dict[str, Any]
    ) -> Event:
        severity = Severity.CRITICAL if kind is EventKind.FALL else Severity.LOW
        return make_event(
            kind,
            severity,
            device=device,
            gateway=self.gateway_id,
            key=s.key,
            occurred_at=s.evidence.get("impact_at", s.suspected_at),
            detected_at=now,
            evidence=evidence,
        )

    # -- the summaries' own detection --------------------------------------------------

    def _on_summary(
        self, frame: WristbandFrame, band: _BandFalls, now: float, cfg: FallSettings
    ) -> None:
        assert frame.tilt_deg is not None
        moving = bool(frame.moving) or (frame.peak_g or 1.0) >= cfg.impact_g
        posture = _Posture(now, frame.tilt_deg, frame.roll_deg, moving)
        impact = band.impact
        peak = frame.peak_g or 0.0
        if band.suspicion is None and peak >= cfg.impact_g:
            if impact is not None and now - impact.at <= cfg.before_s:
                # A second impact of the same fall (the body lands in stages): keep the
                # posture from before the first one and wait for stillness again.
                impact.at = now
                impact.peak_g = max(impact.peak_g, peak)
                impact.still_since = None
                impact.still.clear()
            else:
                before = [p.g for p in band.recent if now - p.at <= cfg.before_s]
                # Without earlier summaries there is no posture to compare with.
                band.impact = _Impact(frame.counter, now, peak, _mean(before)) if before else None
        elif impact is not None and band.suspicion is None:
            self._watch_stillness(frame, band, impact, posture, now=now, cfg=cfg)
        band.recent.append(posture)

    def _watch_stillness(
        self,
        frame: WristbandFrame,
        band: _BandFalls,
        impact: _Impact,
        posture: _Posture,
        *,
        now: float,
        cfg: FallSettings,
    ) -> None:
        if posture.moving:
            impact.still_since = None
            impact.still.clear()
            if now - impact.at > cfg.settle_within_s:
                band.impact = None  # moving about long after the impact: not lying hurt
            return
        if impact.still_since is None:
            if now - impact.at > cfg.settle_within_s:
                band.impact = None
                return
            impact.still_since = now
        impact.still.append(posture.g)
        if now - impact.still_since < cfg.still_s:
            return
        after = _mean(impact.still)
        change = angle_deg(impact.before, after)
        band.impact = None
        if change < cfg.posture_change_deg:
            return  # still, but as before: sat down, put the arm on a table
        evidence = {
            "impact_counter": impact.counter,
            "impact_at": impact.at,
            "peak_g": round(impact.peak_g, 2),
            "posture_change_deg": round(change, 1),
            "still_s": round(now - impact.still_since, 1),
            "rssi": frame.rssi,
        }
        self._open(
            frame.address,
            band,
            key=impact.counter,
            started_counter=impact.counter,
            now=now,
            cfg=cfg,
            source="summaries",
            evidence=evidence,
        )
