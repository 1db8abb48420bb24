"""SOS: a long press is a critical event at once — no confirmation window."""

from contract import Event, EventKind, Severity
from edge.decode.profile import BandEventKind, WristbandFrame


def sos_event(frame: WristbandFrame, gateway_id: str, now: float) -> Event | None:
    if frame.event is None or frame.event.kind is not BandEventKind.LONG_PRESS:
        return None
    origin = frame.event.origin_counter
    return Event.incident(
        EventKind.SOS,
        Severity.CRITICAL,
        device=frame.address,
        key=origin,
        gateway=gateway_id,
        occurred_at=now,
        detected_at=now,
        evidence={"origin_counter": origin, "copy_age": frame.counter - origin, "rssi": frame.rssi},
    )
