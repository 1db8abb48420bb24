"""Rule thresholds for every band on one gateway: ``GatewayConfig.rules``.

Pushed by the fleet (``PUT /api/v1/gateways/{id}`` field ``rules``) or written in a
gateway's own settings (``[rules]``). Every threshold has a default with its reason;
durations are seconds. A resident's own schedule (active hours, inactivity span,
doses) is their care plan (contract/careplan.py) and wins over these defaults.
"""

import zoneinfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contract.careplan import ActiveHours


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
