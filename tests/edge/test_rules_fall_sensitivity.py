"""A resident's fall sensitivity: bounded settings, and the fall rule using them per band."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.careplan import FallSensitivity
from contract.motion import bandwidth_factor
from contract.rules import FallSettings
from edge.rules.fall import FallRule
from edge.rules.fall_sensitivity import fall_settings_for
from tests.factories import motion_frame

T0 = 1_790_000_000.0
FRAIL = "C2:00:00:00:00:0A"
ACTIVE = "C2:00:00:00:00:0B"


def test_the_levels_are_the_care_plans_words():
    assert [str(level) for level in FallSensitivity] == ["low", "standard", "high"]
    assert FallSensitivity("high") is FallSensitivity.HIGH
    with pytest.raises(ValueError, match="extreme"):
        fall_settings_for("extreme")


def test_standard_keeps_the_gateways_settings():
    base = FallSettings(impact_g=3.4, confirm_window_s=45.0)
    assert fall_settings_for(FallSensitivity.STANDARD, base) == base
    assert fall_settings_for("standard") == FallSettings()


def test_each_level_moves_the_defaults_by_one_documented_step():
    high = fall_settings_for("high")
    low = fall_settings_for("low")
    assert (high.impact_g, high.posture_change_deg, high.still_s) == (2.5, 30.0, 5.0)
    assert (low.impact_g, low.posture_change_deg, low.still_s) == (3.5, 60.0, 20.0)


@given(
    impact=st.floats(1.01, 16.0),
    posture=st.floats(0.01, 180.0),
    still=st.floats(0.01, 600.0),
    window=st.floats(1.0, 600.0),
    summaries=st.booleans(),
)
def test_levels_are_bounded_and_never_move_the_wrong_way(
    impact: float, posture: float, still: float, window: float, summaries: bool
):
    base = FallSettings(
        impact_g=impact,
        posture_change_deg=posture,
        still_s=still,
        confirm_window_s=window,
        summary_detection=summaries,
    )
    high = fall_settings_for("high", base)
    low = fall_settings_for("low", base)
    for name in ("impact_g", "posture_change_deg", "still_s"):
        assert getattr(high, name) <= getattr(base, name) <= getattr(low, name)
    # Never below the physical floors (unless the base already was), never past the
    # ceilings (unless the base already was).
    assert high.impact_g >= min(impact, 2.0)
    assert high.posture_change_deg >= min(posture, 25.0)
    assert high.still_s >= min(still, 5.0)
    assert low.impact_g <= max(impact, 6.0)
    assert low.posture_change_deg <= max(posture, 75.0)
    assert low.still_s <= max(still, 60.0)
    # What is not a sensitivity stays as configured.
    for settings in (high, low):
        assert settings.confirm_window_s == window
        assert settings.summary_detection == summaries
        assert settings.before_s == base.before_s
        assert settings.settle_within_s == base.settle_within_s


def test_a_slow_band_gets_a_lower_impact_threshold():
    assert bandwidth_factor(50.0) == 1.0
    assert bandwidth_factor(20.0) == pytest.approx(0.5 ** (1 / 3))
    assert fall_settings_for("standard", sensor_rate_hz=50.0) == FallSettings()
    slow = fall_settings_for("standard", sensor_rate_hz=12.5)
    assert slow.impact_g == pytest.approx(1.0 + 2.0 * (12.5 / 40) ** (1 / 3))
    assert slow.posture_change_deg == FallSettings().posture_change_deg
    with pytest.raises(ValueError, match="positive"):
        bandwidth_factor(0.0)


def test_one_rule_judges_each_band_by_its_residents_settings():
    # The same slump seen from two bands: 2.8 g, then the forearm 35 degrees from where
    # it was, still for 8 s. Too little for the standard settings, a fall for a frail
    # resident's.
    rule = FallRule("gw-01")
    settings = {
        FRAIL: fall_settings_for("high"),
        ACTIVE: fall_settings_for("standard"),
    }
    counter = 100
    t = T0
    for mac in (FRAIL, ACTIVE):
        for k in range(4):
            counter += 1
            rule.on_frame(motion_frame(counter, address=mac, tilt_deg=-10.0), t + k, settings[mac])
    t += 4
    for mac in (FRAIL, ACTIVE):
        counter += 1
        rule.on_frame(
            motion_frame(counter, address=mac, peak_g=2.8, moving=True, tilt_deg=-30.0),
            t,
            settings[mac],
        )
    for k in range(1, 12):
        for mac in (FRAIL, ACTIVE):
            counter += 1
            rule.on_frame(motion_frame(counter, address=mac, tilt_deg=-45.0), t + k, settings[mac])
    assert [s.device for s in rule.suspected] == [FRAIL]
    assert rule.window_open(FRAIL)
    assert not rule.window_open(ACTIVE)
