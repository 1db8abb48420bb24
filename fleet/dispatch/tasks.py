"""A dispatch task's states and the moves between them (pure: no database, no clock).

A critical alert becomes a task for one person. The escalation policy offers it (the
acknowledge link in each message is the offer); the first contact to take it owns it,
and from then on the task always has an owner until it is closed:

    offered ──accept/assign──▶ accepted ──▶ on_the_way ──▶ on_site ──▶ outcome ──▶ closed
                                 ▲   │           │             │
                                 └───┴── decline ┴─ (next person, or the duty line)
    reassign (staff): from any open state to accepted, with the new owner
    close: from any state, when the alert is resolved (outcome, console, resident)

* **accept** — only an offered task; a second taker is told who holds it (:class:`TakenBy`).
* **decline** ("I can't go") — only the owner; the task passes at once to the next
  person in the policy's order who has not declined, else to the community's duty
  line, so nobody's "no" leaves it unowned. With nobody at all left it stays with the
  owner and the refusal says so.
* **on the way / check-in / outcome** — only the owner; anyone else is refused with
  the holder named (:class:`HeldByOther`). A check-in may carry a location.
* **outcome** — what was found and what was done, then the task closes with the alert.

Each move returns a new :class:`Task`; the database layer (fleet.dispatch.store) keeps
the row, the timeline and the notifications in step with it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from fleet.errors import Conflict, Invalid


class TaskState(StrEnum):
    OFFERED = "offered"  # the policy is calling people; nobody has taken it yet
    ACCEPTED = "accepted"  # someone owns it
    ON_THE_WAY = "on_the_way"
    ON_SITE = "on_site"  # checked in at the resident's door
    OUTCOME = "outcome"  # what was found is recorded
    CLOSED = "closed"


OPEN_STATES = frozenset(
    {
        TaskState.OFFERED,
        TaskState.ACCEPTED,
        TaskState.ON_THE_WAY,
        TaskState.ON_SITE,
        TaskState.OUTCOME,
    }
)
OWNED_WORK = frozenset({TaskState.ACCEPTED, TaskState.ON_THE_WAY, TaskState.ON_SITE})


class Found(StrEnum):
    """What the person found on site (the outcome form's first question)."""

    FALL_INJURED = "fall_injured"
    FALL_UNINJURED = "fall_uninjured"
    FALSE_ALARM = "false_alarm"
    NOT_AT_HOME = "not_at_home"
    OTHER = "other"


class Done(StrEnum):
    """What they did (any number of these)."""

    HELPED_UP = "helped_up"
    CALLED_FAMILY = "called_family"
    AMBULANCE_120 = "ambulance_120"
    HOSPITAL = "hospital"


# Whether the alert was real, for the field precision of rules (fleet.dispatch.sla).
# "Not at home" says nothing about the band: it is left out of precision.
REAL = frozenset({Found.FALL_INJURED, Found.FALL_UNINJURED, Found.OTHER})


class TaskError(Conflict):
    """A move the task's state does not allow; the message says why."""


class TakenBy(TaskError):
    """Someone else took the task first."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"this task has already been taken by {holder}")
        self.holder = holder


class HeldByOther(TaskError):
    """A move only the task's owner may make, by somebody else."""

    def __init__(self, holder: str | None) -> None:
        super().__init__(f"this task is held by {holder or 'nobody yet'}")
        self.holder = holder


class NobodyElse(TaskError):
    """ "I can't go" with nobody left to pass the task to: it stays with its owner."""


@dataclass(frozen=True, slots=True)
class Outcome:
    found: Found
    done: frozenset[Done] = frozenset()
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.note) > 2000:
            raise Invalid("the note is at most 2000 characters")

    @property
    def alert_outcome(self) -> str:
        """The alert's own outcome word (fleet.api.routes.alerts.ResolveIn)."""
        if Done.HOSPITAL in self.done or Done.AMBULANCE_120 in self.done:
            return "hospital"
        if self.found is Found.FALSE_ALARM:
            return "false_alarm"
        if self.found is Found.NOT_AT_HOME:
            return "no_answer"
        return "attended"


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise Invalid("a location is latitude -90..90 and longitude -180..180")


@dataclass(frozen=True, slots=True)
class Task:
    state: TaskState = TaskState.OFFERED
    owner: str | None = None
    declined: frozenset[str] = field(default_factory=frozenset)
    accepted_at: datetime | None = None
    on_the_way_at: datetime | None = None
    on_site_at: datetime | None = None
    location: Location | None = None
    outcome: Outcome | None = None
    outcome_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def _owner_only(task: Task, who: str, allowed: frozenset[TaskState], doing: str) -> None:
    if task.owner != who:
        raise HeldByOther(task.owner)
    if task.state not in allowed:
        raise TaskError(f"a task that is {task.state.value} cannot be {doing}")


def accept(task: Task, who: str, now: datetime) -> Task:
    if task.state is not TaskState.OFFERED:
        if task.owner == who and task.state in OWNED_WORK:
            return task  # taking one's own task again (a second link) changes nothing
        if task.owner is not None:
            raise TakenBy(task.owner)
        raise TaskError(f"a task that is {task.state.value} cannot be taken")
    return replace(task, state=TaskState.ACCEPTED, owner=who, accepted_at=now)


def assign(task: Task, who: str, now: datetime) -> Task:
    """Staff give the task to someone (first assignment or reassignment)."""
    if task.state not in (TaskState.OFFERED, *OWNED_WORK):
        raise TaskError(f"a task that is {task.state.value} cannot be reassigned")
    if task.owner == who:
        return task
    # A new owner starts from the beginning: they have not set off yet.
    return replace(
        task,
        state=TaskState.ACCEPTED,
        owner=who,
        accepted_at=task.accepted_at or now,
        on_the_way_at=None,
        on_site_at=None,
        location=None,
        declined=task.declined - {who},
    )


def next_owner(task: Task, candidates: Sequence[str], fallback: str | None) -> str | None:
    """Who a declined task passes to: the next candidate (in the policy's order) who has
    neither declined nor holds it, else the fallback (the community's duty line)."""
    gone = task.declined | ({task.owner} if task.owner else set())
    for candidate in candidates:
        if candidate not in gone:
            return candidate
    if fallback is not None and fallback != task.owner:
        return fallback
    return None


def decline(
    task: Task, who: str, candidates: Sequence[str], fallback: str | None, now: datetime
) -> Task:
    _owner_only(task, who, frozenset({TaskState.ACCEPTED, TaskState.ON_THE_WAY}), "declined")
    following = next_owner(task, candidates, fallback)
    if following is None:
        raise NobodyElse(
            "nobody else is registered to take this task; it stays with you — "
            "call the community health center"
        )
    return replace(
        task,
        state=TaskState.ACCEPTED,
        owner=following,
        declined=task.declined | {who},
        on_the_way_at=None,
        accepted_at=task.accepted_at or now,
    )


def set_off(task: Task, who: str, now: datetime) -> Task:
    _owner_only(task, who, frozenset({TaskState.ACCEPTED, TaskState.ON_THE_WAY}), "set off")
    if task.state is TaskState.ON_THE_WAY:
        return task
    return replace(task, state=TaskState.ON_THE_WAY, on_the_way_at=now)


def check_in(task: Task, who: str, now: datetime, location: Location | None = None) -> Task:
    _owner_only(task, who, OWNED_WORK, "checked in")
    if task.state is TaskState.ON_SITE:
        return task
    return replace(
        task,
        state=TaskState.ON_SITE,
        on_the_way_at=task.on_the_way_at or now,
        on_site_at=now,
        location=location,
    )


def record_outcome(task: Task, who: str, outcome: Outcome, now: datetime) -> Task:
    """The outcome form. Allowed before a check-in too (someone who found the resident
    by phone, or who never got in); the arrival figures then count no arrival."""
    _owner_only(task, who, OWNED_WORK, "given an outcome")
    return replace(task, state=TaskState.OUTCOME, outcome=outcome, outcome_at=now)


def close(task: Task, now: datetime, reason: str) -> Task:
    if task.state is TaskState.CLOSED:
        return task
    return replace(task, state=TaskState.CLOSED, closed_at=now, close_reason=reason)
