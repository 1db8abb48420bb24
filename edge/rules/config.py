"""What the rules are told, assembled for the rule engine.

The pieces are the contract's, typed once for the fleet and the gateway:
gateway-wide thresholds (:class:`contract.rules.GatewayRules`, ``GatewayConfig.rules``
or the gateway's own ``[rules]``), each resident's care plan
(:class:`contract.careplan.CarePlan`, in ``ResidentConfig.plan`` or the gateway's own
``[[residents]]``), and band -> resident/flat from ``GatewayConfig.bands``.
:class:`RulesConfig` puts them together and answers per band: its active hours,
inactivity span, doses, fall thresholds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from contract.careplan import ActiveHours, Dose, FallSensitivity
from contract.config import GatewayConfig, ResidentConfig
from contract.rules import FallSettings, GatewayRules
from edge.rules.fall_sensitivity import fall_settings_for


@dataclass(frozen=True, slots=True)
class BandBinding:
    resident: str | None = None
    flat: str | None = None
    sample_rate_hz: float | None = None  # the band's accelerometer rate, if below 40 Hz


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Everything the rule engine needs, ready to use; replaced as a whole at run time."""

    rules: GatewayRules = field(default_factory=GatewayRules)
    residents: Mapping[str, ResidentConfig] = field(default_factory=dict)
    bands: Mapping[str, BandBinding] = field(default_factory=dict)
    # Per band: the fall rule's settings for its resident's sensitivity and its rate,
    # worked out once per config (the fall rule asks for every advert).
    _fall: dict[str, FallSettings] = field(default_factory=dict, compare=False, repr=False)

    def binding(self, mac: str) -> BandBinding:
        return self.bands.get(mac, BandBinding())

    def resident_of(self, mac: str) -> ResidentConfig | None:
        resident = self.binding(mac).resident
        return self.residents.get(resident) if resident else None

    def flat_of(self, mac: str) -> str | None:
        binding = self.binding(mac)
        if binding.flat:
            return binding.flat
        resident = self.resident_of(mac)
        return resident.flat if resident else None

    def active_hours(self, mac: str) -> ActiveHours:
        resident = self.resident_of(mac)
        if resident and resident.plan.active_hours:
            return resident.plan.active_hours
        return self.rules.inactivity.active_hours

    def inactivity_span_s(self, mac: str) -> float:
        resident = self.resident_of(mac)
        if resident and resident.plan.inactivity_s:
            return float(resident.plan.inactivity_s)
        return self.rules.inactivity.span_s

    def doses(self, mac: str) -> list[Dose]:
        resident = self.resident_of(mac)
        return list(resident.plan.medication) if resident else []

    def fall_settings(self, mac: str) -> FallSettings:
        settings = self._fall.get(mac)
        if settings is None:
            resident = self.resident_of(mac)
            level = resident.plan.fall_sensitivity if resident else FallSensitivity.STANDARD
            settings = self._fall[mac] = fall_settings_for(
                level, self.rules.fall, sensor_rate_hz=self.binding(mac).sample_rate_hz
            )
        return settings

    @classmethod
    def build(
        cls,
        rules: GatewayRules | None = None,
        residents: Iterable[ResidentConfig] = (),
        bands: Mapping[str, BandBinding] | None = None,
    ) -> RulesConfig:
        return cls(rules or GatewayRules(), {r.resident: r for r in residents}, dict(bands or {}))

    @classmethod
    def from_gateway_config(cls, config: GatewayConfig) -> RulesConfig:
        """The fleet's pushed config (already validated entry by entry)."""
        bands = {b.mac: BandBinding(b.resident, b.flat, b.sample_rate_hz) for b in config.bands}
        return cls.build(config.rules, config.residents, bands)
