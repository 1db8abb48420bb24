"""The meter side of a gateway, as the composition root sees it: poll, judge, report.

Readings go upstream as telemetry (``Reading(kind="meter")``, one per poll) and into
the utility-routine rules; the rules' events and the poller's ``meter_offline`` go to
the pipeline's outbox. The learned routine and each meter's last good reading are
saved to ``state_path`` (JSON, replaced atomically) every few minutes and on the way
out, so a restart neither forgets the flat's routine nor raises an incident twice.
"""

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from contract import Event, FieldValue, Reading
from contract.messages import ReadingKind
from edge.meters.config import MeterConfig
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
        tick_s: float = 10.0,
        save_s: float = 300.0,
    ) -> None:
        self.meters = meters
        self.state_path = state_path
        self._on_reading = on_reading
        self._on_event = on_event
        self._clock = clock
        self._tick_s = tick_s
        self._save_s = save_s
        self.rules = UtilityRules(gateway_id, {m.id: (m.flat, m.utility) for m in meters}, routine)
        last_ok = self._load()
        self.poller = MeterPoller(
            gateway_id,
            meters,
            on_reading=self._reading,
            on_event=on_event,
            clock=clock,
            last_ok=last_ok,
        )

    def _load(self) -> dict[str, float]:
        try:
            saved = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.rules.restore(saved["routine"])
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
        state = {
            "routine": self.rules.snapshot(),
            "last_ok": {
                m: h.last_ok for m, h in self.poller.health.items() if h.last_ok is not None
            },
        }
        tmp = self.state_path.with_suffix(".tmp")
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as file:
                json.dump(state, file, separators=(",", ":"))
                file.flush()
                os.fsync(file.fileno())
            tmp.replace(self.state_path)
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
        if not self.meters:
            return
        log.info("meters: polling %d meters on %d ports", len(self.meters), len(self.poller.buses))
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.poller.run())
                tasks.create_task(self._every(self._tick_s, self.tick))
                tasks.create_task(self._every(self._save_s, self.save))
        finally:
            with contextlib.suppress(Exception):
                self.save()

    def recent_usage(self, flat: str, now: float, span_s: float) -> UsageSummary:
        """The flat's meter evidence for the inactivity rule (see edge.rules.usage)."""
        return self.rules.recent_usage(flat, now, span_s)

    def health(self) -> dict[str, FieldValue]:
        return self.poller.figures() if self.meters else {}
