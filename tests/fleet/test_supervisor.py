"""Background tasks come back after a failure (fleet/supervisor.py)."""

import asyncio

from fleet.supervisor import Supervisor
from tests.waiting import eventually


async def test_a_failing_task_is_restarted_counted_and_shown():
    runs: list[int] = []
    gate = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"bug #{len(runs)}")
        await gate.wait()  # the third run stays up

    supervisor = Supervisor()
    supervisor.start("flaky", flaky)

    async def third_run() -> bool:
        return len(runs) == 3 and supervisor.states["flaky"].state == "running"

    await eventually(third_run, 10, "the third run", interval=0.05)
    health = supervisor.health()["flaky"]
    assert health["restarts"] == 2
    assert health["last_error"] == "RuntimeError: bug #2"
    assert supervisor.degraded() == []
    await supervisor.stop()
    assert supervisor.states["flaky"].state == "stopped"


async def test_a_task_that_returns_is_started_again():
    runs = 0

    async def returns() -> None:
        nonlocal runs
        runs += 1
        if runs > 1:
            await asyncio.Event().wait()

    supervisor = Supervisor()
    supervisor.start("returns", returns)

    async def restarted() -> bool:
        return runs == 2

    await eventually(restarted, 10, "a second run", interval=0.05)
    assert supervisor.health()["returns"]["last_error"] == "returned"
    await supervisor.stop()
