"""Event messages waiting to be stored: those that may open an alert go first.

A morning's dose presses arrive as a burst — hundreds of ``medication_taken``
events, each heard by two or three gateways — and on a busy machine the fleet's
event worker falls seconds behind them. First in, first out, an SOS or a missed dose
that arrives then waits behind the whole burst (docs/benchmarks.md, "Events into the
fleet"). Here it waits at most for the batch already being stored: events
that may open an alert (fleet.alerts.incidents.may_open), and a fall's cancel, are
taken before other follow-ups, digest news and records, each lane in the order it came.

Follow-ups never overtake what they follow: a follow-up is routine and its alert's
opener urgent, so in one batch the opener is stored first. A routine message is only
delayed, never dropped or starved: while routine ones wait, a quarter of every batch
is theirs.
"""

import asyncio
from collections import deque
from typing import Generic, TypeVar

import msgspec

from contract import EventKind, Severity
from contract.messages import MAX_PAYLOAD_BYTES
from fleet.alerts.incidents import NEVER_SILENCED, class_of, may_open

_T = TypeVar("_T")


class _Head(msgspec.Struct):
    """The two fields that rank an event; the rest of the payload is skipped here
    and validated whole by the worker."""

    kind: str = ""
    severity: str = ""


_HEAD = msgspec.json.Decoder(_Head)


def urgent(payload: bytes) -> bool:
    """Whether an event payload may open an alert. Anything unreadable (too big, not
    JSON, nested too deep, an unknown kind) is routine: the worker refuses it on its
    own, in its turn. Nothing a sender puts in a payload may raise out of here — this
    runs in the loop that reads every gateway's messages."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return False
    try:
        head = _HEAD.decode(payload)
        kind = EventKind(head.kind)
        # A cancelled fall rides with the falls: a fall whose cancel another gateway
        # heard is a near-miss only if the cancel is stored first (fleet.alerts.
        # service), so the two keep the order they came in.
        return class_of(kind) in NEVER_SILENCED or may_open(kind, Severity(head.severity))
    except Exception:  # any refusal is the worker's to report
        return False


class IntakeQueue(Generic[_T]):
    """Two first-in-first-out lanes; :meth:`take` takes urgent ones first, keeping a
    quarter of the batch for routine ones while any wait."""

    def __init__(self) -> None:
        self._urgent: deque[_T] = deque()
        self._routine: deque[_T] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._urgent) + len(self._routine)

    def put(self, item: _T, *, urgent: bool) -> None:
        (self._urgent if urgent else self._routine).append(item)
        self._ready.set()

    async def take(self, most: int) -> list[_T]:
        """Wait for at least one item; return up to ``most``, urgent ones first."""
        while not self:
            self._ready.clear()
            await self._ready.wait()
        # While routine messages wait, a quarter of the batch is theirs: one gateway
        # flooding urgent-looking messages (refused or not) slows the others' routine
        # ones — a "taken" that resolves an alert — but cannot stop them.
        n_urgent = min(len(self._urgent), most - min(len(self._routine), most // 4))
        n_routine = min(len(self._routine), most - n_urgent)
        batch = [self._urgent.popleft() for _ in range(n_urgent)]
        batch += [self._routine.popleft() for _ in range(n_routine)]
        return batch
