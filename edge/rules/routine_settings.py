"""Thresholds of the utility-routine rules, with the reason for each default.

Defaults suit an elderly resident living alone; a site changes them in the gateway's
config (``[routine]``). Times of day are local (``timezone``).
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RoutineSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "Asia/Shanghai"
    # No routine alert until the flat has this many days of history: a new gateway, or
    # a new resident, first has to learn what "usual" is.
    warmup_days: float = Field(7.0, ge=0)
    history_days: int = Field(28, ge=1, le=366)  # what "usual" is learned from

    # -- water ---------------------------------------------------------------------
    # The water day starts at 04:00, so a toilet visit at 02:00 does not count as the
    # morning's first use.
    day_starts_at_h: float = Field(4.0, ge=0, lt=12)
    # "The usual time" of the first water use is this quantile of past first uses (the
    # latest of a typical week at 0.9), and the alert waits this long after it.
    no_water_quantile: float = Field(0.9, gt=0, le=1)
    no_water_grace_s: float = Field(3600.0, ge=0)
    # Flow that counts as a tap running: half a litre a minute. A dripping tap or a
    # leaking cistern stays below it; a basin tap runs at 4-8 l/min.
    water_min_flow_m3h: float = Field(0.03, gt=0)
    # Running this long without a break is not a shower or a bath (10-20 minutes).
    water_running_s: float = Field(3600.0, gt=0)
    # Readings further apart than this say nothing about whether water ran throughout.
    water_max_gap_s: float = Field(600.0, gt=0)

    # -- power ---------------------------------------------------------------------
    # Power is judged in windows this long: a fridge (about 90 W, a third of the time)
    # averages out over half an hour, a TV or a cooker does not.
    power_window_s: float = Field(1800.0, ge=300, le=3600)
    # A window is "in use" when its mean power is this far above the flat's idle level
    # (the median window at night: fridge and standby). 60 W is above the fridge's
    # swing in a window and below a TV (about 110 W) or any cooking.
    power_margin_w: float = Field(60.0, gt=0)
    night_hours: tuple[int, int] = (1, 5)  # local hours that teach the idle level
    # "No power use for an unusual span": at least this long at idle level, and during
    # it the flat would usually (by its hour-of-week profile) have been in use this long.
    no_power_min_span_s: float = Field(3 * 3600.0, gt=0)
    no_power_expected_active_s: float = Field(2 * 3600.0, gt=0)

    # A meter whose last reading is older than this gives no evidence either way.
    stale_after_s: float = Field(900.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use a name like Asia/Shanghai"
            ) from None
        return value

    @field_validator("night_hours")
    @classmethod
    def _night(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= value[0] < value[1] <= 24:
            raise ValueError("night_hours is [first, last) local hours, e.g. [1, 5]")
        return value
