"""Which events make one incident, and what each event does to it (pure).

An *incident* is one situation of one resident that calls for one human response:
"she fell", "no sign of life since breakfast", "the evening pills were not taken".
Every event belongs to an incident class; while an alert of that class is open
(not resolved) for the resident, further events of the class fold into it instead of
opening another alert. The open alert is found through its incident key
(``<resident>:<class>``), unique among unresolved alerts by a partial unique index,
so two fleet instances racing on two events of one incident still make one alert.

The table (docs/alerting.md explains the choices):

============  ==========================================  ===================================
class         kinds that open or fold in                  follow-ups (attach, never open)
============  ==========================================  ===================================
emergency     sos, fall                                   fall_cancelled: noted, escalation
                                                          goes on (a human confirms)
inactivity    inactivity, no_water, no_power_use          movement seen again (telemetry):
                                                          noted, further escalation stopped
medication    missed_dose (one incident per dose)         medication_taken: resolves it
water         water_running                               —
device        low_battery, not_worn, not_seen,            —
              meter_offline (daily digest unless
              critical)
coverage      gateway_offline (raised by the fleet: the   gateway_online: resolves it
              residents a gateway covers are unprotected)
============  ==========================================  ===================================

A follow-up with no open alert of its class is a near-miss: ``fall_cancelled`` goes
to the daily digest, ``medication_taken`` is only recorded.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from contract import EventKind, Severity


class IncidentClass(StrEnum):
    EMERGENCY = "emergency"
    INACTIVITY = "inactivity"
    MEDICATION = "medication"
    WATER = "water"
    DEVICE = "device"
    COVERAGE = "coverage"  # a gateway down: the residents it covers are unprotected


class FollowUpEffect(StrEnum):
    NOTE = "note"  # recorded on the alert's timeline, nothing else changes
    STOP_ESCALATION = "stop_escalation"  # no further steps; the alert stays for a human
    RESOLVE = "resolve"  # the situation is over (the resident confirmed it)


class Action(StrEnum):
    OPEN = "open"  # open an alert (or fold into the open one of the class)
    FOLLOW_UP = "follow_up"  # attach to the open alert of the class, if any
    DIGEST = "digest"  # into the caregivers' next digest
    RECORD = "record"  # stored, nothing else


@dataclass(frozen=True, slots=True)
class Disposition:
    action: Action
    incident: IncidentClass | None = None
    effect: FollowUpEffect | None = None  # FOLLOW_UP only
    # FOLLOW_UP only: what to do when no alert of the class is open.
    otherwise: "Action | None" = None


_CLASS_OF: dict[EventKind, IncidentClass] = {
    EventKind.SOS: IncidentClass.EMERGENCY,
    EventKind.FALL: IncidentClass.EMERGENCY,
    EventKind.INACTIVITY: IncidentClass.INACTIVITY,
    EventKind.NO_WATER: IncidentClass.INACTIVITY,
    EventKind.NO_POWER_USE: IncidentClass.INACTIVITY,
    EventKind.MISSED_DOSE: IncidentClass.MEDICATION,
    EventKind.WATER_RUNNING: IncidentClass.WATER,
    EventKind.LOW_BATTERY: IncidentClass.DEVICE,
    EventKind.NOT_WORN: IncidentClass.DEVICE,
    EventKind.NOT_SEEN: IncidentClass.DEVICE,
    EventKind.METER_OFFLINE: IncidentClass.DEVICE,
    EventKind.GATEWAY_OFFLINE: IncidentClass.COVERAGE,
}

_FOLLOW_UPS: dict[EventKind, Disposition] = {
    # A cancel pressed after the gateway already raised the fall: it may be a
    # confused or accidental press, so the people called keep being called until one
    # of them acknowledges. Falls and SOS are never silenced by a device.
    EventKind.FALL_CANCELLED: Disposition(
        Action.FOLLOW_UP, IncidentClass.EMERGENCY, FollowUpEffect.NOTE, Action.DIGEST
    ),
    # "Taken" pressed after the missed-dose alert: the dose is taken, nobody needs to go.
    EventKind.MEDICATION_TAKEN: Disposition(
        Action.FOLLOW_UP, IncidentClass.MEDICATION, FollowUpEffect.RESOLVE, Action.RECORD
    ),
    # The gateway is back: its residents are covered again.
    EventKind.GATEWAY_ONLINE: Disposition(
        Action.FOLLOW_UP, IncidentClass.COVERAGE, FollowUpEffect.RESOLVE, Action.RECORD
    ),
}

# Kinds about the equipment rather than the person: a daily digest is enough, unless a
# gateway rule marks one critical.
DIGEST_CLASSES = frozenset({IncidentClass.DEVICE})

# Classes that may never be silenced, batched or stopped by a device's follow-up.
NEVER_SILENCED = frozenset({IncidentClass.EMERGENCY})


def class_of(kind: EventKind) -> IncidentClass:
    follow_up = _FOLLOW_UPS.get(kind)
    if follow_up is not None and follow_up.incident is not None:
        return follow_up.incident
    return _CLASS_OF[kind]


def dispose(kind: EventKind, severity: Severity) -> Disposition:
    """What an event of this kind and severity does (before looking at open alerts)."""
    follow_up = _FOLLOW_UPS.get(kind)
    if follow_up is not None:
        return follow_up
    incident = _CLASS_OF[kind]
    if incident in NEVER_SILENCED:
        return Disposition(Action.OPEN, incident)
    if severity is Severity.CRITICAL:
        return Disposition(Action.OPEN, incident)
    if incident in DIGEST_CLASSES or severity is Severity.LOW:
        # Still folded into an open alert of the class if there is one (the caller
        # checks), otherwise batched.
        return Disposition(Action.DIGEST, incident)
    return Disposition(Action.OPEN, incident)


def may_open(kind: EventKind, severity: Severity) -> bool:
    """Whether an event of this kind and severity can open an alert (someone is
    called): the fleet's intake stores these before routine news
    (fleet.ingest.intake_queue)."""
    return dispose(kind, severity).action is Action.OPEN


# A dose as the gateway names it in the evidence: local date and time of the dose.
_DOSE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def episode(incident: IncidentClass, evidence: Mapping[str, object]) -> str | None:
    """What splits one class into several incidents: each dose is its own ("the
    evening pills were not taken" is news even while the morning's alert is only
    acknowledged). None for the other classes: one open alert per resident."""
    if incident is IncidentClass.MEDICATION:
        dose = evidence.get("dose")
        if isinstance(dose, str) and _DOSE.fullmatch(dose):
            return dose
    return None


def incident_key(subject: str, incident: IncidentClass, part: str | None = None) -> str:
    """``subject`` is the resident id, or ``device:<mac>`` for an unassigned band;
    ``part`` the :func:`episode`, if the class has them."""
    key = f"{subject}:{incident.value}"
    return (key if part is None else f"{key}:{part}")[:80]


# What stops an inactivity incident: telemetry showing the band moving again.
ACTIVITY_FOLLOW_UP = FollowUpEffect.STOP_ESCALATION
