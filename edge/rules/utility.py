"""The flat's utility routine: water and power use as a second witness (pure, clock in).

Meter readings and clock ticks go in; events come out:

* ``no_water`` — no water drawn by the flat's usual time of the morning (plus grace);
* ``water_running`` — water flowing without a break for ``water_running_s``;
* ``no_power_use`` — the flat at its idle power level for a span in which it would
  usually be in use.

Each is learned per flat from its own history and stays quiet for ``warmup_days``.
Event ids are deterministic (flat or meter, kind, and the day or the span's start), so
a gateway restarted from its saved profile (:meth:`UtilityRules.snapshot`) does not
raise an incident twice. :meth:`UtilityRules.recent_usage` gives the inactivity rule
its evidence. The thresholds and their reasons are in
:mod:`edge.rules.routine_settings`; the water and power halves in
:mod:`edge.rules.water_routine` and :mod:`edge.rules.power_routine`.
"""

from collections.abc import Mapping
from typing import Any

from contract import Event
from edge.rules.power_routine import PowerRoutine
from edge.rules.routine_settings import RoutineSettings
from edge.rules.usage import UsageSummary
from edge.rules.water_routine import WaterRoutine

SNAPSHOT_VERSION = 1


class UtilityRules:
    def __init__(
        self,
        gateway_id: str,
        meters: Mapping[str, tuple[str, str]],
        settings: RoutineSettings | None = None,
    ) -> None:
        """``meters``: meter id -> (flat id, "electricity" | "water")."""
        self.settings = settings or RoutineSettings()
        water = {m: flat for m, (flat, kind) in meters.items() if kind == "water"}
        power = {m: flat for m, (flat, kind) in meters.items() if kind == "electricity"}
        self.water = WaterRoutine(self.settings, gateway_id, water)
        self.power = PowerRoutine(self.settings, gateway_id, power)

    def on_reading(self, meter: str, ts: float, fields: Mapping[str, float]) -> list[Event]:
        values = dict(fields)
        return self.water.on_reading(meter, ts, values) + self.power.on_reading(meter, ts, values)

    def on_tick(self, now: float) -> list[Event]:
        return self.water.on_tick(now)

    def recent_usage(self, flat: str, now: float, span_s: float) -> UsageSummary:
        """What the flat's meters say about the last ``span_s`` seconds.

        ``None`` for a utility means no evidence: no such meter, a meter not
        reporting, or (power) an idle level not learned yet.
        """
        return UsageSummary(
            water=self.water.used_within(flat, now, span_s),
            power=self.power.active_within(flat, now, span_s),
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "v": SNAPSHOT_VERSION,
            "water": self.water.snapshot(),
            "power": self.power.snapshot(),
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Restore a :meth:`snapshot`; raise ValueError if it is not one."""
        if data.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"routine snapshot version {data.get('v')!r}, want {SNAPSHOT_VERSION}")
        try:
            self.water.restore(dict(data.get("water", {})))
            self.power.restore(dict(data.get("power", {})))
        except (TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"routine snapshot is damaged: {exc!r}") from None
