"""What the rules are told: gateway-wide thresholds and per-resident settings.

Two dicts of the fleet's pushed config (contract/config.py) are parsed here:

- ``GatewayConfig.rules`` -> :class:`GatewayRules` (thresholds for every band),
- ``ResidentConfig.settings`` -> :class:`ResidentSettings` (active hours, inactivity
  span, medication doses of one resident),

and the band -> resident/flat mapping comes from ``GatewayConfig.bands``. The same
models sit in the gateway's own settings (``[rules]``, ``[[residents]]``), so a
gateway without a fleet runs with a local file. Every field has a default; an unknown
key or a bad value is refused with a message naming it (:class:`RulesConfigError`).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contract.config import GatewayConfig

_M = TypeVar("_M", bound=BaseModel)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class RulesConfigError(ValueError):
    """A rules config that cannot be applied; the message names each bad key."""


def parse_hhmm(value: str) -> dt.time:
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day like 07:30")
    return dt.time(int(match.group(1)), int(match.group(2)))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActiveHours(_Model):
    """The part of the day when the resident is normally up: "07:00-22:00".

    A span that crosses midnight ("22:00-06:00", someone who works nights) is allowed.
    """

    start: dt.time = dt.time(7, 0)
    end: dt.time = dt.time(22, 0)

    @classmethod
    def parse(cls, value: str) -> ActiveHours:
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError(f"{value!r}: write active hours as HH:MM-HH:MM, e.g. 07:00-22:00")
        hours = cls(start=parse_hhmm(start), end=parse_hhmm(end))
        if hours.start == hours.end:
            raise ValueError(f"{value!r}: active hours must not start and end at the same time")
        return hours

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def _active_hours(value: Any) -> Any:
    return ActiveHours.parse(value) if isinstance(value, str) else value


class FallSettings(_Model):
    # The resident's chance to say "I'm fine" with a short press before anyone is
    # called. 30 s: long enough to find the button after getting one's breath back,
    # short enough that help still arrives within the 15-minute response target.
    confirm_window_s: float = Field(30.0, gt=0, le=600)
    # The gateway's own detection from the motion summaries (for falls the band's
    # detector misses): an impact, then a changed posture held still.
    summary_detection: bool = True
    # Summary impact: the band's 1 s peak. Walking and brisk arm movement stay under
    # ~2.5 g at the wrist; landing on the floor gives 3 g and more.
    impact_g: float = Field(3.0, gt=1.0, le=16.0)
    # Posture change between the still wrist before the impact and the still wrist
    # after it. Going from upright to lying turns the forearm by ~60-90 degrees;
    # sitting down or putting the arm on a table rarely turns it by more than 45.
    posture_change_deg: float = Field(45.0, gt=0, le=180)
    # Stillness after the impact, in seconds of summaries without movement. Someone
    # who tripped and got straight up moves within seconds; someone hurt or dazed lies
    # still. 10 s keeps bumps and sit-downs out (the band's own detector judges the
    # first seconds).
    still_s: float = Field(10.0, gt=0, le=600)
    # The stillness must begin within this long after the impact (people often move
    # for a while after landing, trying to get up).
    settle_within_s: float = Field(30.0, gt=0, le=600)
    # Posture before the impact: the summaries of the last few seconds before it.
    before_s: float = Field(3.0, gt=0, le=10)


class InactivitySettings(_Model):
    # No movement at the wrist for this long inside the active hours. Even someone
    # watching television or reading moves the wrist several times an hour.
    span_s: float = Field(2 * 3600.0, ge=600, le=48 * 3600)
    active_hours: ActiveHours = ActiveHours()
    # How far back the flat's meters are asked about use of water and power.
    meter_span_s: float | None = Field(None, ge=600)

    _parse_hours = field_validator("active_hours", mode="before")(_active_hours)


class MedicationSettings(_Model):
    # After the reminder, this long for the "taken" press before MISSED_DOSE.
    grace_s: float = Field(30 * 60.0, ge=60, le=6 * 3600)
    # A "taken" press this long before the dose time still counts (taken a bit early).
    early_s: float = Field(30 * 60.0, ge=0, le=3 * 3600)


class DeviceSettings(_Model):
    # Coin-cell bands last months; 20 % leaves about two weeks to replace or charge it,
    # 10 % a few days.
    battery_low_pct: int = Field(20, ge=1, le=99)
    battery_critical_pct: int = Field(10, ge=0, le=99)
    # Trend: warn when the discharge slope says the low threshold is this close.
    battery_warn_days: float = Field(3.0, gt=0, le=60)
    # The slope needs readings spread over at least this long to mean anything.
    battery_trend_min_span_s: float = Field(12 * 3600.0, gt=0)
    battery_trend_window_s: float = Field(7 * 86400.0, gt=0)
    # Band reports it is off the wrist for this long inside active hours (charging at
    # night is normal).
    not_worn_s: float = Field(30 * 60.0, ge=60)
    # No advert accepted from the band for this long. It advertises every second, so
    # a few minutes of silence already mean it is out of range, dead or broken.
    not_seen_s: float = Field(30 * 60.0, ge=60)


class GatewayRules(_Model):
    """``GatewayConfig.rules``: thresholds for every band on this gateway."""

    # Active hours and dose times are local times of the community.
    timezone: str = "Asia/Shanghai"
    fall: FallSettings = FallSettings()
    inactivity: InactivitySettings = InactivitySettings()
    medication: MedicationSettings = MedicationSettings()
    device: DeviceSettings = DeviceSettings()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Dose(_Model):
    """One scheduled dose: a local time of day, every day."""

    time: dt.time
    grace_s: float | None = Field(None, ge=60, le=6 * 3600)

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        return parse_hhmm(value) if isinstance(value, str) else value


class ResidentSettings(_Model):
    """``ResidentConfig.settings``: one resident's schedule; gateway defaults fill gaps."""

    active_hours: ActiveHours | None = None
    inactivity_span_s: float | None = Field(None, ge=600, le=48 * 3600)
    doses: list[Dose] = []

    _parse_hours = field_validator("active_hours", mode="before")(_active_hours)

    @field_validator("doses")
    @classmethod
    def _distinct(cls, doses: list[Dose]) -> list[Dose]:
        times = [d.time for d in doses]
        if len(set(times)) != len(times):
            raise ValueError("two doses at the same time of day")
        return sorted(doses, key=lambda d: d.time)


class ResidentRules(_Model):
    """A resident in the gateway's local settings (``[[residents]]``)."""

    resident: str
    flat: str | None = None
    settings: ResidentSettings = ResidentSettings()


@dataclass(frozen=True, slots=True)
class BandBinding:
    resident: str | None = None
    flat: str | None = None


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Everything the rule engine needs, ready to use; replaced as a whole at run time."""

    rules: GatewayRules = field(default_factory=GatewayRules)
    residents: Mapping[str, ResidentRules] = field(default_factory=dict)
    bands: Mapping[str, BandBinding] = field(default_factory=dict)

    def binding(self, mac: str) -> BandBinding:
        return self.bands.get(mac, BandBinding())

    def resident_of(self, mac: str) -> ResidentRules | None:
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
        if resident and resident.settings.active_hours:
            return resident.settings.active_hours
        return self.rules.inactivity.active_hours

    def inactivity_span_s(self, mac: str) -> float:
        resident = self.resident_of(mac)
        if resident and resident.settings.inactivity_span_s:
            return resident.settings.inactivity_span_s
        return self.rules.inactivity.span_s

    def doses(self, mac: str) -> list[Dose]:
        resident = self.resident_of(mac)
        return list(resident.settings.doses) if resident else []

    @classmethod
    def build(
        cls,
        rules: Mapping[str, Any] | GatewayRules | None = None,
        residents: Iterable[ResidentRules] = (),
        bands: Mapping[str, BandBinding] | None = None,
    ) -> RulesConfig:
        if not isinstance(rules, GatewayRules):
            rules = _validate(GatewayRules, rules or {}, "rules")
        return cls(rules, {r.resident: r for r in residents}, dict(bands or {}))

    @classmethod
    def from_gateway_config(cls, config: GatewayConfig) -> RulesConfig:
        """Parse the fleet's pushed config; raise RulesConfigError naming bad keys."""
        rules = _validate(GatewayRules, config.rules, "rules")
        residents = []
        for i, r in enumerate(config.residents):
            settings = _validate(ResidentSettings, r.settings, f"residents[{i}].settings")
            residents.append(ResidentRules(resident=r.resident, flat=r.flat, settings=settings))
        bands = {b.mac.upper(): BandBinding(b.resident, b.flat) for b in config.bands}
        return cls.build(rules, residents, bands)


def _validate(model: type[_M], data: Mapping[str, Any], where: str) -> _M:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join([where, *(str(part) for part in error["loc"])])
            problems.append(f"{name}: {error['msg']}")
        raise RulesConfigError("invalid rules config: " + "; ".join(problems)) from None
