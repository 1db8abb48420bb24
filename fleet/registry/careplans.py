"""Residents' care plans in the registry: the contract's :class:`CarePlan`, and the
medication labels that stay here.

The plan is stored as the contract's JSON in ``residents.settings`` and sent as it is
to every gateway covering the resident (``ResidentConfig.plan``): the API validates it
with the very type the gateway applies, so a plan the API accepts is a plan the
gateway can run. What each dose is ("降压药") is health data: kept in
``residents.medication_labels`` by dose id, never on the wire.
"""

import logging
import re
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationError

from contract.careplan import CarePlan, DoseId
from contract.config import explain
from fleet.errors import Invalid

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _label(value: str) -> str:
    if len(value) > 80:
        raise ValueError("a medication label is at most 80 characters")
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


Label = Annotated[str, AfterValidator(_label)]
MedicationLabels = dict[DoseId, Label]


def check_labels(plan: CarePlan, labels: dict[str, str]) -> dict[str, str]:
    """Labels may name only the plan's doses (a label for a removed dose is refused)."""
    doses = {dose.id for dose in plan.medication}
    unknown = sorted(set(labels) - doses)
    if unknown:
        raise Invalid(
            f"medication_labels: {', '.join(unknown)} is not a dose of the care plan "
            f"(doses: {', '.join(sorted(doses)) or 'none'})"
        )
    return labels


def stored(plan: CarePlan) -> dict[str, Any]:
    """The plan as the registry keeps it (what the API and the gateways read back)."""
    return plan.model_dump(mode="json")


def load(resident_id: str, stored_plan: dict[str, Any] | None) -> CarePlan:
    """The stored plan; one that no longer validates is reported and read as empty, so
    one bad row never keeps a gateway's whole config (and its bands' keys) from going out.
    """
    try:
        return CarePlan.model_validate(stored_plan or {})
    except ValidationError as exc:
        log.error(
            "care plan of resident %s is not valid; using the defaults: %s",
            resident_id,
            explain(exc),
        )
        return CarePlan()
