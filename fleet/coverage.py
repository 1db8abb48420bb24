"""Residents unprotected: a gateway that stays offline raises an alert (pure).

The broker publishes a gateway's last will (``status`` = offline, retained) when its
connection drops. If it is not back within ``after_s``, the residents it covers are
unprotected — no fall or SOS of theirs can arrive — and the community's people must
know. The events made here go through the same alert path as the gateways' own:

- ``gateway_offline`` (high): its id comes from the will's own timestamp (set when
  that connection was made), so every fleet instance, and a restarted one that sees
  the retained will again, derives the same id: one alert per outage.
- ``gateway_online``: the gateway is back; it resolves the open alert.
"""

from dataclasses import dataclass

from contract import Event, EventKind, GatewayStatus, Severity


@dataclass(slots=True)
class _Outage:
    will_ts: float  # the ts inside the will: fixed per connection, the same everywhere
    noticed_at: float  # when this instance saw it (this instance's clock)
    raised: bool = False


class CoverageWatch:
    def __init__(self, *, after_s: float = 300.0, instance: str = "fleet") -> None:
        self.after_s = after_s
        self.instance = instance
        self._outages: dict[str, _Outage] = {}
        self._back: list[Event] = []

    def on_status(self, status: GatewayStatus, now: float) -> None:
        gateway = status.gateway
        if status.state == "offline":
            outage = self._outages.get(gateway)
            if outage is None or outage.will_ts != status.ts:
                self._outages[gateway] = _Outage(status.ts, now)
            return
        outage = self._outages.pop(gateway, None)
        if outage is not None and outage.raised:
            self._back.append(
                Event.incident(
                    EventKind.GATEWAY_ONLINE,
                    Severity.LOW,
                    device=gateway,
                    key=repr(status.ts),
                    gateway=gateway,
                    occurred_at=status.ts,
                    detected_at=now,
                    evidence={"offline_since": outage.noticed_at},
                )
            )

    def due(self, now: float) -> list[Event]:
        """Events to record now: outages past ``after_s``, and gateways back online."""
        events, self._back = self._back, []
        for gateway, outage in self._outages.items():
            if outage.raised or now - outage.noticed_at < self.after_s:
                continue
            outage.raised = True
            events.append(
                Event.incident(
                    EventKind.GATEWAY_OFFLINE,
                    Severity.HIGH,
                    device=gateway,
                    key=repr(outage.will_ts),
                    gateway=gateway,
                    occurred_at=outage.noticed_at,
                    detected_at=now,
                    evidence={"offline_for_s": round(now - outage.noticed_at), "by": self.instance},
                )
            )
        return events

    def offline(self) -> list[str]:
        return sorted(self._outages)
