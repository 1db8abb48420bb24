"""Background tasks that come back: each is restarted with backoff when it fails.

Every long-running task of the fleet (ingest, time-series writer, notifier, escalator
...) handles its own expected failures and loops for ever. A failure it did not
expect used to end the task silently — the fleet left the broker, /health said
"retrying" for ever, and no SOS got through. Here such a failure is logged with its
traceback, counted, shown in /health, and the task is started again after a backoff
(0.5 s doubling to 30 s, reset once the task has run a minute without failing).
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_BACKOFF_MIN_S = 0.5
_BACKOFF_MAX_S = 30.0
_HEALTHY_AFTER_S = 60.0

TaskFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class TaskState:
    state: str = "starting"  # running | restarting | stopped
    restarts: int = 0
    last_error: str = ""
    started_at: float = 0.0


class Supervisor:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.states: dict[str, TaskState] = {}

    def start(self, name: str, factory: TaskFactory) -> None:
        self.states[name] = TaskState()
        self._tasks[name] = asyncio.create_task(self._keep(name, factory), name=name)

    async def _keep(self, name: str, factory: TaskFactory) -> None:
        state = self.states[name]
        backoff = _BACKOFF_MIN_S
        while True:
            state.state = "running"
            state.started_at = self._clock()
            try:
                await factory()
                error = "returned"  # these tasks loop for ever: returning is a fault too
            except asyncio.CancelledError:
                state.state = "stopped"
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.exception("task %s failed; restarting it", name)
            if self._clock() - state.started_at >= _HEALTHY_AFTER_S:
                backoff = _BACKOFF_MIN_S
            state.state = "restarting"
            state.restarts += 1
            state.last_error = error[:500]
            delay = backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311
            log.warning("task %s: %s; restart %d in %.1fs", name, error, state.restarts, delay)
            backoff = min(backoff * 2, _BACKOFF_MAX_S)
            await asyncio.sleep(delay)

    def health(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"state": s.state, "restarts": s.restarts, "last_error": s.last_error}
            for name, s in self.states.items()
        }

    def degraded(self) -> list[str]:
        return [name for name, s in self.states.items() if s.state != "running"]

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
