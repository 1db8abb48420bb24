"""Which events open, fold into, follow up or are batched (pure)."""

import pytest

from contract import EventKind, Severity
from fleet.alerts.incidents import Action, FollowUpEffect, IncidentClass, class_of, dispose


@pytest.mark.parametrize("kind", [EventKind.SOS, EventKind.FALL])
@pytest.mark.parametrize("severity", list(Severity))
def test_falls_and_sos_always_open_an_alert_whatever_their_severity(kind, severity):
    assert dispose(kind, severity).action is Action.OPEN
    assert class_of(kind) is IncidentClass.EMERGENCY


@pytest.mark.parametrize(
    "kind", [EventKind.LOW_BATTERY, EventKind.NOT_WORN, EventKind.NOT_SEEN, EventKind.METER_OFFLINE]
)
def test_device_kinds_go_to_the_digest_unless_critical(kind):
    assert dispose(kind, Severity.HIGH).action is Action.DIGEST
    assert dispose(kind, Severity.CRITICAL).action is Action.OPEN


def test_follow_ups_and_their_effects():
    cancel = dispose(EventKind.FALL_CANCELLED, Severity.LOW)
    assert (cancel.action, cancel.incident, cancel.effect, cancel.otherwise) == (
        Action.FOLLOW_UP,
        IncidentClass.EMERGENCY,
        FollowUpEffect.NOTE,  # never silences a fall
        Action.DIGEST,
    )
    taken = dispose(EventKind.MEDICATION_TAKEN, Severity.LOW)
    assert (taken.incident, taken.effect) == (IncidentClass.MEDICATION, FollowUpEffect.RESOLVE)


def test_every_kind_on_the_wire_has_a_disposition():
    for kind in EventKind:
        for severity in Severity:
            assert dispose(kind, severity).incident is not None


def test_low_severity_person_kinds_are_batched_high_ones_open():
    assert dispose(EventKind.INACTIVITY, Severity.LOW).action is Action.DIGEST
    assert dispose(EventKind.INACTIVITY, Severity.MEDIUM).action is Action.OPEN
    assert dispose(EventKind.NO_WATER, Severity.MEDIUM).incident is IncidentClass.INACTIVITY
