"""A resident's fall sensitivity, and the gateway's fall settings for it.

The care plan gives each resident one of three levels:

- ``standard``: the default, the thresholds that generalise across people and bands;
- ``high``: frail residents and wheelchair users. Their falls are slumps and slides
  out of a chair or bed: less energy at impact and a smaller turn of the forearm;
- ``low``: very active residents, whose days are full of impacts at the wrist
  (sport, housework, grandchildren) and who get up at once after a stumble.

:func:`fall_settings_for` turns a level into the :class:`FallSettings` the gateway's
fall rule takes for that resident's band (``FallRule.on_frame(frame, now, settings)``).
It is pure and bounded: whatever the base settings, a level moves each threshold by
one documented step and never past a physical floor or ceiling.
"""

from contract.careplan import FallSensitivity
from contract.motion import bandwidth_factor
from contract.rules import FallSettings

__all__ = ["FallSensitivity", "fall_settings_for"]

# One step of a level, per threshold of the summary rule, with its bounds.
# Impact: 0.5 g is the difference between sliding out of a chair and toppling from it
# (2-2.5 g against 3 g at the wrist); never below 2 g, which brisk walking reaches.
_IMPACT_STEP_G = 0.5
_IMPACT_FLOOR_G = 2.0
_IMPACT_CEILING_G = 6.0
# Posture change: a slide out of a wheelchair turns the forearm by 30-45 degrees rather
# than the 60-90 of a fall from standing; never below 25 degrees (arm swing reaches 20)
# nor above 75 (a fall that ends on the side may turn the wrist no further).
_POSTURE_STEP_DEG = 15.0
_POSTURE_FLOOR_DEG = 25.0
_POSTURE_CEILING_DEG = 75.0
# Stillness: a frail resident who lies still for 5 s after an impact needs help; an
# active one may rest for 20 s before getting up. Never below 5 s (a pause to catch
# one's breath after sitting down) nor above 60 s.
_STILL_FACTOR = 2.0
_STILL_FLOOR_S = 5.0
_STILL_CEILING_S = 60.0


def _lower(value: float, to: float, floor: float) -> float:
    """``value`` moved down to ``to``, but not below ``floor`` (nor ever up)."""
    return min(value, max(to, floor))


def _raise(value: float, to: float, ceiling: float) -> float:
    """``value`` moved up to ``to``, but not above ``ceiling`` (nor ever down)."""
    return max(value, min(to, ceiling))


def fall_settings_for(
    level: FallSensitivity | str,
    base: FallSettings | None = None,
    *,
    sensor_rate_hz: float | None = None,
) -> FallSettings:
    """The gateway fall rule's settings for a resident's ``level``.

    ``base`` is the gateway's configured settings (``GatewayRules.fall``); the level
    moves its impact, posture-change and stillness thresholds by one step each
    (``standard`` keeps them) within the bounds above. The confirmation window, the
    look-back and the switch for the summary rule stay as configured. With
    ``sensor_rate_hz`` (the band's declared sample rate) the impact threshold is scaled
    for a band sampling below 40 Hz, as the band's own detector does.
    """
    level = FallSensitivity(level)
    base = base or FallSettings()
    impact, posture, still = base.impact_g, base.posture_change_deg, base.still_s
    if level is FallSensitivity.HIGH:
        impact = _lower(impact, impact - _IMPACT_STEP_G, _IMPACT_FLOOR_G)
        posture = _lower(posture, posture - _POSTURE_STEP_DEG, _POSTURE_FLOOR_DEG)
        still = _lower(still, still / _STILL_FACTOR, _STILL_FLOOR_S)
    elif level is FallSensitivity.LOW:
        impact = _raise(impact, impact + _IMPACT_STEP_G, _IMPACT_CEILING_G)
        posture = _raise(posture, posture + _POSTURE_STEP_DEG, _POSTURE_CEILING_DEG)
        still = _raise(still, still * _STILL_FACTOR, _STILL_CEILING_S)
    if sensor_rate_hz is not None:
        # Gravity is recorded in full at any rate; only the impact's dynamic part shrinks.
        impact = 1.0 + (impact - 1.0) * bandwidth_factor(sensor_rate_hz)
    return base.model_copy(
        update={"impact_g": impact, "posture_change_deg": posture, "still_s": still}
    )
