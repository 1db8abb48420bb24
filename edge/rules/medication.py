"""Medication: a reminder for the band at each dose time, MISSED_DOSE if no "taken".

At a dose time (local time of the community) a reminder command is queued for the
band; a short press between ``early_s`` before the dose and the end of the grace span
counts as "taken" (a low-severity MEDICATION_TAKEN event for the record). When the
grace span ends without one, a MISSED_DOSE event goes out.

Only doses whose reminder this gateway queued can be missed: a gateway started after a
dose's grace span ended cannot know whether it was taken, so it says nothing.

Event id key: the dose's local date and time (``2026-05-01T08:00``), the same on every
gateway and after a restart.
"""

import datetime as dt
from dataclasses import dataclass

from contract import Event, EventKind, Severity
from contract.careplan import Dose
from edge.rules.actions import BandCommand, CommandKind, make_event
from edge.rules.clock import at_local, local
from edge.rules.config import RulesConfig
from edge.rules.snapshot import DoseState

# Dose state older than this is forgotten (a day's doses are settled by then).
_KEEP_S = 2 * 86400


@dataclass(slots=True)
class _DoseState:
    due_at: float
    grace_end: float
    reminded_at: float | None = None
    taken_at: float | None = None
    reported: bool = False


@dataclass(frozen=True, slots=True)
class _Slot:
    key: str
    dose: Dose
    due_at: float
    grace_end: float


class MedicationRule:
    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self._doses: dict[tuple[str, str], _DoseState] = {}
        # Dose times of a band for a local date, under one config (they change daily).
        self._slot_cache: dict[tuple[str, dt.date], tuple[object, list[_Slot]]] = {}

    def _slots(self, device: str, now: float, cfg: RulesConfig) -> list[_Slot]:
        doses = cfg.doses(device)
        if not doses:
            return []
        tz = cfg.rules.tz
        today = local(now, tz).date()
        key = (device, today)
        basis = (tuple(doses), cfg.rules.timezone, cfg.rules.medication.grace_s)
        cached = self._slot_cache.get(key)
        if cached is not None and cached[0] == basis:
            return cached[1]
        if len(self._slot_cache) > 4 * len(cfg.bands) + 16:
            self._slot_cache.clear()  # a new day or a new config: old entries are dead
        slots = []
        for offset in (-1, 0, 1):
            day = today + dt.timedelta(days=offset)
            for dose in doses:
                due = at_local(day, dose.time, tz)
                grace = cfg.rules.medication.grace_s
                slots.append(_Slot(f"{day.isoformat()}T{dose.time:%H:%M}", dose, due, due + grace))
        self._slot_cache[key] = (basis, slots)
        return slots

    def on_tick(self, now: float, cfg: RulesConfig) -> tuple[list[Event], list[BandCommand]]:
        events: list[Event] = []
        commands: list[BandCommand] = []
        for device in cfg.bands:
            for slot in self._slots(device, now, cfg):
                state = self._doses.get((device, slot.key))
                if state is None and slot.due_at <= now < slot.grace_end:
                    state = self._doses[(device, slot.key)] = _DoseState(
                        slot.due_at, slot.grace_end, reminded_at=now
                    )
                    commands.append(
                        BandCommand(
                            CommandKind.MEDICATION_REMINDER,
                            device,
                            slot.key,
                            created_at=now,
                            expires_at=slot.grace_end,
                            params={"dose_time": f"{slot.dose.time:%H:%M}"},
                        )
                    )
                elif (
                    state is not None
                    and now >= state.grace_end
                    and state.reminded_at is not None
                    and state.taken_at is None
                    and not state.reported
                ):
                    state.reported = True
                    events.append(self._missed(device, slot, state, now))
        self._doses = {k: s for k, s in self._doses.items() if now - s.grace_end < _KEEP_S}
        return events, commands

    def snapshot(self) -> list[DoseState]:
        return [
            DoseState(
                device=device,
                slot=slot,
                due_at=s.due_at,
                grace_end=s.grace_end,
                reminded_at=s.reminded_at,
                taken_at=s.taken_at,
                reported=s.reported,
            )
            for (device, slot), s in self._doses.items()
        ]

    def restore(self, states: list[DoseState]) -> None:
        for s in states:
            self._doses[(s.device, s.slot)] = _DoseState(
                s.due_at, s.grace_end, s.reminded_at, s.taken_at, s.reported
            )

    def on_press(self, device: str, now: float, cfg: RulesConfig) -> list[Event]:
        """A fresh short press: "taken" for the dose whose window it falls in, if any."""
        early = cfg.rules.medication.early_s
        for slot in self._slots(device, now, cfg):
            if not slot.due_at - early <= now < slot.grace_end:
                continue
            state = self._doses.get((device, slot.key))
            if state is None:
                state = self._doses[(device, slot.key)] = _DoseState(slot.due_at, slot.grace_end)
            if state.taken_at is not None:
                continue
            state.taken_at = now
            return [
                make_event(
                    EventKind.MEDICATION_TAKEN,
                    Severity.LOW,
                    device=device,
                    gateway=self.gateway_id,
                    key=slot.key,
                    occurred_at=now,
                    detected_at=now,
                    evidence={
                        "dose": slot.key,
                        "dose_id": slot.dose.id,
                        "taken_at": now,
                        "due_at": slot.due_at,
                    },
                )
            ]
        return []

    def _missed(self, device: str, slot: _Slot, state: _DoseState, now: float) -> Event:
        return make_event(
            EventKind.MISSED_DOSE,
            Severity.MEDIUM,
            device=device,
            gateway=self.gateway_id,
            key=slot.key,
            occurred_at=state.grace_end,
            detected_at=now,
            evidence={
                "dose": slot.key,
                "dose_id": slot.dose.id,
                "due_at": state.due_at,
                "reminded_at": state.reminded_at,
                "grace_s": state.grace_end - state.due_at,
            },
        )
