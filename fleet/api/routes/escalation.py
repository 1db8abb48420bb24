"""Escalation policies per community, and the community's duty line (staff and admin).

A community without a policy of its own uses the default (fleet.alerts.policy). A
policy change applies to alerts opened after it; an alert already escalating keeps
the policy it opened with.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.alerts.escalation import policy_for
from fleet.alerts.policy import (
    CONTACT_PREFIX,
    MAX_AFTER_S,
    MAX_STEPS,
    MAX_TARGETS,
    EscalationPolicy,
    PolicyError,
    Step,
)
from fleet.api.deps import SessionDep, StaffDep
from fleet.api.schemas import IdPath, OpaqueId
from fleet.auth import Caller
from fleet.db.models import Caregiver, Community, EscalationPolicyRow
from fleet.db.session import utcnow
from fleet.errors import Invalid, NotFound
from fleet.registry import audit, scope

router = APIRouter(prefix="/api/v1/communities", tags=["escalation"])

Target = Annotated[
    str,
    StringConstraints(pattern=r"^(caregivers|grid_worker|duty_line|contact:[a-z][a-z0-9-]{1,39})$"),
]


class StepIn(BaseModel):
    after_s: int = Field(ge=0, le=MAX_AFTER_S, description="seconds after the alert opened")
    targets: list[Target] = Field(
        min_length=1,
        max_length=MAX_TARGETS,
        description="caregivers | grid_worker | duty_line | contact:<contact id>",
    )


class PolicyIn(BaseModel):
    steps: list[StepIn] = Field(min_length=1, max_length=MAX_STEPS)
    repeat_every_s: int = Field(
        ge=1,
        le=2 * MAX_AFTER_S,
        description="the steps start again this long after the last round began",
    )

    @model_validator(mode="after")
    def _works(self) -> "PolicyIn":
        try:
            self.policy()
        except PolicyError as exc:
            raise ValueError(str(exc)) from None
        return self

    def policy(self) -> EscalationPolicy:
        return EscalationPolicy(
            tuple(Step(s.after_s, tuple(s.targets)) for s in self.steps), self.repeat_every_s
        )


class StepOut(BaseModel):
    after_s: int
    targets: list[str]


class PolicyOut(BaseModel):
    community_id: str
    default: bool = Field(description="true: the community has no policy of its own")
    steps: list[StepOut]
    repeat_every_s: int
    duty_line: str | None = Field(description="contact id of the health center's duty line")
    updated_at: datetime | None
    updated_by: str | None


class DutyLineIn(BaseModel):
    contact_id: OpaqueId | None = Field(description="a registered contact; null removes it")


def _out(session: Session, community: Community) -> PolicyOut:
    row = session.get(EscalationPolicyRow, community.id)
    policy = policy_for(session, community.id)
    return PolicyOut(
        community_id=community.id,
        default=row is None,
        steps=[StepOut(after_s=s.after_s, targets=list(s.targets)) for s in policy.steps],
        repeat_every_s=policy.repeat_every_s,
        duty_line=community.duty_contact_id,
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
    )


def _community(session: Session, caller: Caller, community_id: str) -> Community:
    community = session.execute(
        select(Community).where(Community.id == community_id, scope.communities(caller))
    ).scalar_one_or_none()
    if community is None:
        raise NotFound(f"community {community_id} not found")
    return community


def _check_contact(session: Session, caller: Caller, contact_id: str) -> None:
    # A duty line or policy contact receives every alert of the community, with names
    # and addresses: only someone registered by the caller's own town.
    contact = session.get(Caregiver, contact_id)
    if contact is None or not scope.may_link_contact(caller, contact):
        raise Invalid(f"contact {contact_id} does not exist or is outside your town")


@router.get("/{community_id}/escalation-policy", response_model=PolicyOut)
def get_policy(community_id: IdPath, session: SessionDep, caller: StaffDep) -> PolicyOut:
    return _out(session, _community(session, caller, community_id))


@router.put("/{community_id}/escalation-policy", response_model=PolicyOut)
def put_policy(
    community_id: IdPath, body: PolicyIn, session: SessionDep, caller: StaffDep
) -> PolicyOut:
    """Set the community's policy, e.g. family at once, the grid worker after 300 s,
    the duty line after 600 s, everything again every 900 s."""
    community = _community(session, caller, community_id)
    for step in body.steps:
        for target in step.targets:
            if target.startswith(CONTACT_PREFIX):
                _check_contact(session, caller, target[len(CONTACT_PREFIX) :])
    policy = body.policy().to_json()
    row = session.get(EscalationPolicyRow, community.id)
    if row is None:
        row = EscalationPolicyRow(community_id=community.id)
        session.add(row)
    row.steps = policy["steps"]
    row.repeat_every_s = policy["repeat_every_s"]
    row.updated_at = utcnow()
    row.updated_by = caller.actor
    audit.record(
        session,
        caller,
        "escalation_policy.set",
        community.id,
        steps=len(body.steps),
        repeat_every_s=body.repeat_every_s,
    )
    session.commit()
    return _out(session, community)


@router.delete("/{community_id}/escalation-policy", response_model=PolicyOut)
def delete_policy(community_id: IdPath, session: SessionDep, caller: StaffDep) -> PolicyOut:
    """Back to the default policy."""
    community = _community(session, caller, community_id)
    row = session.get(EscalationPolicyRow, community.id)
    if row is not None:
        session.delete(row)
        audit.record(session, caller, "escalation_policy.delete", community.id)
        session.commit()
    return _out(session, community)


@router.put("/{community_id}/duty-line", response_model=PolicyOut)
def put_duty_line(
    community_id: IdPath, body: DutyLineIn, session: SessionDep, caller: StaffDep
) -> PolicyOut:
    """The contact (registered like a caregiver, with its channels) that the
    ``duty_line`` target reaches: the community health center's duty phone."""
    community = _community(session, caller, community_id)
    if body.contact_id is not None:
        _check_contact(session, caller, body.contact_id)
    community.duty_contact_id = body.contact_id
    audit.record(session, caller, "community.duty_line", community.id, contact=body.contact_id)
    session.commit()
    return _out(session, community)
