"""Escalation policies: who is called, when, until someone acknowledges (pure).

A policy is a list of steps, each ``after_s`` seconds after the alert opened, each
naming its targets, and a cycle length: when the last step has fired and nobody has
acknowledged, the steps start again ``repeat_every_s`` after the previous round began,
for as long as the alert stays unacknowledged. Targets:

* ``caregivers``  — the resident's caregivers (care links, in priority order)
* ``grid_worker`` — the grid worker of the resident's grid
* ``duty_line``   — the community health center's duty line (``communities.duty_contact_id``)
* ``contact:<id>`` — one registered contact by id

The default (a community without its own policy) is the district's practice, sized
to the 15-minute response field staff are held to: family at once, the grid worker
after 5 minutes, the health center's duty line after 10, everything again after 15.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fleet.errors import Invalid

CAREGIVERS = "caregivers"
GRID_WORKER = "grid_worker"
DUTY_LINE = "duty_line"
CONTACT_PREFIX = "contact:"
KEYWORDS = (CAREGIVERS, GRID_WORKER, DUTY_LINE)

MAX_STEPS = 10
MAX_TARGETS = 10
MAX_AFTER_S = 24 * 3600


class PolicyError(Invalid):
    """A policy that cannot work; the message names the step and the problem."""


@dataclass(frozen=True, slots=True)
class Step:
    after_s: int
    targets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """One firing of one step: round 0 is the first pass through the steps."""

    round: int
    step: int


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    steps: tuple[Step, ...]
    repeat_every_s: int

    def __post_init__(self) -> None:
        if not self.steps:
            raise PolicyError("a policy needs at least one step")
        if len(self.steps) > MAX_STEPS:
            raise PolicyError(f"at most {MAX_STEPS} steps")
        if self.steps[0].after_s != 0:
            # An alert reaches someone the moment it opens; nothing waits in silence.
            raise PolicyError("step 1 must have after_s 0: the first people are called at once")
        previous = -1
        for number, step in enumerate(self.steps, start=1):
            if not 0 <= step.after_s <= MAX_AFTER_S:
                raise PolicyError(f"step {number}: after_s must be 0..{MAX_AFTER_S}")
            if step.after_s <= previous:
                raise PolicyError(f"step {number}: after_s must be later than the step before")
            previous = step.after_s
            if not 1 <= len(step.targets) <= MAX_TARGETS:
                raise PolicyError(f"step {number}: 1 to {MAX_TARGETS} targets")
            for target in step.targets:
                check_target(target, number)
        if not self.steps[-1].after_s < self.repeat_every_s <= 2 * MAX_AFTER_S:
            raise PolicyError(
                "repeat_every_s must be longer than the last step's after_s "
                "(the steps repeat until someone acknowledges)"
            )

    def offset(self, position: Position) -> timedelta:
        """When this firing is due, counted from the alert's opening."""
        seconds = position.round * self.repeat_every_s + self.steps[position.step].after_s
        return timedelta(seconds=seconds)

    def due_at(self, opened_at: datetime, position: Position) -> datetime:
        return opened_at + self.offset(position)

    def following(self, position: Position) -> Position:
        """The firing after this one (the policy repeats for ever: there always is one)."""
        if position.step + 1 < len(self.steps):
            return Position(position.round, position.step + 1)
        return Position(position.round + 1, 0)

    def catch_up(self, opened_at: datetime, position: Position, now: datetime) -> Position:
        """Skip whole rounds that lie entirely in the past (after an outage of every
        fleet instance): call everyone once now, not once per missed round."""
        overdue = now - self.due_at(opened_at, position)
        cycle = timedelta(seconds=self.repeat_every_s)
        if overdue < cycle:
            return position
        return Position(position.round + int(overdue / cycle), position.step)

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [{"after_s": s.after_s, "targets": list(s.targets)} for s in self.steps],
            "repeat_every_s": self.repeat_every_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "EscalationPolicy":
        try:
            steps = tuple(
                Step(int(s["after_s"]), tuple(str(t) for t in s["targets"])) for s in data["steps"]
            )
            return cls(steps, int(data["repeat_every_s"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PolicyError):
                raise
            raise PolicyError(f"not a policy: {exc}") from None


def check_target(target: str, step_number: int) -> None:
    if target in KEYWORDS:
        return
    if target.startswith(CONTACT_PREFIX) and 1 < len(target) - len(CONTACT_PREFIX) <= 40:
        return
    raise PolicyError(
        f"step {step_number}: target {target!r} is not one of {', '.join(KEYWORDS)} "
        f"or {CONTACT_PREFIX}<contact id>"
    )


DEFAULT_POLICY = EscalationPolicy(
    steps=(
        Step(0, (CAREGIVERS,)),
        Step(5 * 60, (GRID_WORKER,)),
        Step(10 * 60, (DUTY_LINE,)),
    ),
    repeat_every_s=15 * 60,
)
