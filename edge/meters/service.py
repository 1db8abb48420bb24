"""The meter side of a gateway, as the composition root sees it: poll, judge, report.

Readings go upstream as telemetry (``Reading(kind="meter")``, one per poll) and into
the utility-routine rules; the rules' events and the poller's ``meter_offline`` go to
the pipeline's outbox. The learned routine and each meter's last good reading are
saved to ``state_path`` (JSON, replaced atomically) every few minutes and on the way
out, so a restart neither forgets the flat's routine nor raises an incident twice.

Meters come from the gateway's own settings and from the fleet's pushed config
(:meth:`apply_config`); a local declaration wins over a pushed one with the same id. A
change restarts the polling with the new list and keeps what the routine learned.
"""

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract import Event, FieldValue, Reading
from contract.config import ConfigSection, SetAside
from contract.files import write_atomically
from contract.messages import ReadingKind
from contract.meters import MeterConfig, split_meter_list
from edge.config_push import DesiredConfig
from edge.meters.poller import MeterPoller, MeterReading
from edge.rules.routine_settings import RoutineSettings
from edge.rules.usage import UsageSummary
from edge.rules.utility import UtilityRules

log = logging.getLogger(__name__)


class MeterService:
    def __init__(
        self,
        gateway_id: str,
        meters: list[MeterConfig],
        routine: RoutineSettings,
        *,
        state_path: Path,
        on_reading: Callable[[Reading], None],
        on_event: Callable[[Event], None],
        clock: Callable[[], float] = time.time,
        wall: Callable[[float], float] = float,
        tick_s: float = 10.0,
        save_s: float = 300.0,
    ) -> None:
        self._gateway_id = gateway_id
        self._routine = routine
        self._local = list(meters)
        self.meters = list(meters)
        self._changed = asyncio.Event()
        self.state_path = state_path
        self._on_reading = on_reading
        self._on_event = on_event
        self._clock = clock  # product time
        self._wall = wall  # product span -> real seconds to wait
        self._tick_s = tick_s
        self._save_s = save_s
        self.rules = UtilityRules(gateway_id, {m.id: (m.flat, m.utility) for m in meters}, routine)
        # What was saved, kept until the fleet's meters are known again: at start only
        # the local ones are, and a restore drops what it has no meter for.
        self._saved_routine: dict[str, Any] | None = None
        self.poller = self._poller(self._load())

    def _poller(self, last_ok: dict[str, float]) -> MeterPoller:
        return MeterPoller(
            self._gateway_id,
            self.meters,
            on_reading=self._reading,
            on_event=self._on_event,
            clock=self._clock,
            wall=self._wall,
            last_ok=last_ok,
        )

    def apply_config(self, desired: DesiredConfig) -> list[SetAside]:
        """The fleet's meters for this gateway: poll them from now on.

        A pushed meter on a serial port this gateway does not have is set aside (the
        fleet's record names the wrong gateway or port); so is one that clashes with a
        local declaration on the same bus.
        """
        local_ids = {m.id for m in self._local}
        set_aside: list[SetAside] = []
        wanted = list(self._local)
        for meter in desired.config.meters:
            if meter.id in local_ids:
                continue  # the technician's local declaration wins
            if not os.path.exists(meter.port):
                set_aside.append(
                    SetAside(
                        section=ConfigSection.METERS,
                        name=meter.id,
                        reason=f"serial port {meter.port} does not exist on this gateway",
                    )
                )
                continue
            wanted.append(meter)
        kept, refused = split_meter_list(wanted)
        set_aside += [
            SetAside(section=ConfigSection.METERS, name=m.id, reason=why) for m, why in refused
        ]
        if [m.model_dump() for m in kept] != [m.model_dump() for m in self.meters]:
            self._replace(kept)
        return set_aside

    def _replace(self, meters: list[MeterConfig]) -> None:
        snapshot = self.rules.snapshot()
        last_ok = {m: h.last_ok for m, h in self.poller.health.items() if h.last_ok is not None}
        self.meters = meters
        self.rules = UtilityRules(
            self._gateway_id, {m.id: (m.flat, m.utility) for m in meters}, self._routine
        )
        # The saved file first (the fleet's meters, learned before a restart), then
        # the running rules, which are newer for the meters they have.
        saved, self._saved_routine = self._saved_routine, None
        for learned in (saved, snapshot):
            if learned is None:
                continue
            try:
                self.rules.restore(learned)
            except ValueError as exc:
                log.warning("meters: learned routine not carried over: %s", exc)
        self.poller = self._poller(last_ok)
        log.info(
            "meters: now %d meters (%d from the fleet)", len(meters), len(meters) - len(self._local)
        )
        self._changed.set()

    def _load(self) -> dict[str, float]:
        try:
            saved = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.rules.restore(saved["routine"])
            self._saved_routine = saved["routine"]
            return {str(k): float(v) for k, v in saved.get("last_ok", {}).items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # A damaged file must not keep the gateway from starting: learn afresh.
            log.warning(
                "meters: saved routine %s unusable (%s); starting afresh", self.state_path, exc
            )
            return {}

    def save(self) -> None:
        routine = self.rules.snapshot()
        if self._saved_routine is not None:
            routine = _keep_unknown(routine, self._saved_routine)
        state = {
            "routine": routine,
            "last_ok": {
                m: h.last_ok for m, h in self.poller.health.items() if h.last_ok is not None
            },
        }
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.state_path, json.dumps(state, separators=(",", ":")).encode())
        except OSError as exc:
            log.error("meters: cannot save the routine to %s: %s", self.state_path, exc)

    def _reading(self, reading: MeterReading) -> None:
        self._on_reading(
            Reading(
                device=reading.meter,
                ts=reading.ts,
                kind=ReadingKind.METER,
                fields=dict(reading.fields),
            )
        )
        for event in self.rules.on_reading(reading.meter, reading.ts, reading.fields):
            self._on_event(event)

    def tick(self) -> None:
        for event in self.rules.on_tick(self._clock()):
            self._on_event(event)

    async def _every(self, seconds: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                action()
            except Exception:
                log.exception("meters: %s failed", getattr(action, "__name__", action))

    async def run(self) -> None:
        """Poll until cancelled; a new meter list (:meth:`apply_config`) restarts polling."""
        try:
            while True:
                self._changed.clear()
                if self.meters:
                    log.info(
                        "meters: polling %d meters on %d ports",
                        len(self.meters),
                        len(self.poller.buses),
                    )
                    poller = self.poller
                    async with asyncio.TaskGroup() as tasks:
                        polling = tasks.create_task(poller.run())
                        ticking = tasks.create_task(
                            self._every(max(self._wall(self._tick_s), 0.05), self.tick)
                        )
                        saving = tasks.create_task(self._every(self._save_s, self.save))
                        await self._changed.wait()
                        for task in (polling, ticking, saving):
                            task.cancel()
                else:
                    await self._changed.wait()
        finally:
            with contextlib.suppress(Exception):
                self.save()

    def recent_usage(self, flat: str, now: float, span_s: float) -> UsageSummary:
        """The flat's meter evidence for the inactivity rule (see edge.rules.usage)."""
        return self.rules.recent_usage(flat, now, span_s)

    def health(self) -> dict[str, FieldValue]:
        return self.poller.figures() if self.meters else {}


def _keep_unknown(current: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    """``current`` plus what ``saved`` holds on meters and flats it does not know: a
    save before the fleet's config came back must not forget the fleet's meters."""
    if saved.get("v") != current.get("v"):
        return current
    water, old_water = dict(current.get("water", {})), saved.get("water", {})
    for part in ("meters", "flats"):
        water[part] = {**old_water.get(part, {}), **water.get(part, {})}
    power = {**saved.get("power", {}), **current.get("power", {})}
    return {**current, "water": water, "power": power}
