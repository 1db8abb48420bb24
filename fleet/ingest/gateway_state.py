"""What this fleet instance last heard from each gateway: its retained status and its
last heartbeat. Kept in memory (every instance hears every status; heartbeats are
shared between instances, so the gateways page also reads the stored ones from
InfluxDB); the coverage watch judges outages from the same statuses."""

from dataclasses import dataclass, field, replace

from contract import FieldValue, GatewayStatus, Health
from contract.messages import GatewayState


@dataclass(frozen=True, slots=True)
class LiveGateway:
    state: str | None = None  # online | offline: the retained status (or last will)
    status_ts: float | None = None
    version: str = ""
    health_ts: float | None = None
    uptime_s: float | None = None
    figures: dict[str, FieldValue] = field(default_factory=dict)


class LiveGateways:
    def __init__(self) -> None:
        self._gateways: dict[str, LiveGateway] = {}

    def on_status(self, message: GatewayStatus) -> None:
        known = self._gateways.get(message.gateway, LiveGateway())
        self._gateways[message.gateway] = replace(
            known,
            state=GatewayState(message.state).value,
            status_ts=message.ts,
            version=message.version,
        )

    def on_health(self, message: Health) -> None:
        known = self._gateways.get(message.gateway, LiveGateway())
        self._gateways[message.gateway] = replace(
            known, health_ts=message.ts, uptime_s=message.uptime_s, figures=dict(message.figures)
        )

    def snapshot(self) -> dict[str, LiveGateway]:
        return dict(self._gateways)
