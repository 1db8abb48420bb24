"""All of the gateway's rules behind one pure interface.

Frames (decoded adverts) and clock ticks go in; events come out. No I/O, no clock of
its own: the caller passes ``now`` (Unix seconds), so tests can run a week in
milliseconds. The pipeline calls ``on_frame`` per advert and the app calls
``on_tick`` about once a second for time-driven rules (confirmation windows,
inactivity, missed doses, bands not seen).
"""

from edge.decode.profile import WristbandFrame
from edge.rules.sos import sos_event
from silverguard.wire import Event


class RuleEngine:
    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id

    def on_frame(self, frame: WristbandFrame, now: float) -> list[Event]:
        events: list[Event] = []
        if frame.event is not None:
            sos = sos_event(frame, self.gateway_id, now)
            if sos is not None:
                events.append(sos)
        return events

    def on_tick(self, now: float) -> list[Event]:
        return []
