"""Commands waiting for their band (medication reminders), handed over when it is heard.

A band listens for a GATT write only briefly after it advertises, so a command waits
until the band has been heard since the command was queued; one that outlives its use
(the dose window is over) is dropped unsent. The hand-over itself - the GATT write
through bleak's client - is not implemented yet: ``take_ready`` returns the commands
and the app logs them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from edge.rules.actions import BandCommand

# A gateway serves hundreds of bands with a few commands a day each; far more pending
# commands means bands that are never heard. Oldest go first.
_MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class _Queued:
    command: BandCommand
    queued_at: float


class BandCommandQueue:
    def __init__(self, max_pending: int = _MAX_PENDING) -> None:
        self.max_pending = max_pending
        self._pending: dict[tuple[str, str, str], _Queued] = {}
        self.delivered = 0
        self.expired = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, commands: list[BandCommand], now: float) -> None:
        for command in commands:
            key = (command.device, command.kind, command.key)
            if key in self._pending:
                continue
            self._pending[key] = _Queued(command, now)
        while len(self._pending) > self.max_pending:
            del self._pending[next(iter(self._pending))]
            self.dropped += 1

    def take_ready(
        self, last_heard: Callable[[str], float | None], now: float
    ) -> list[BandCommand]:
        """Commands whose band has been heard since they were queued, in queue order."""
        ready = []
        for key, queued in list(self._pending.items()):
            command = queued.command
            if now >= command.expires_at:
                del self._pending[key]
                self.expired += 1
                continue
            heard = last_heard(command.device)
            if heard is not None and heard >= queued.queued_at:
                del self._pending[key]
                self.delivered += 1
                ready.append(command)
        return ready
