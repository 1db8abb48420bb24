"""Waiting on conditions with a timeout — never sleep and hope. The one helper for
every test: async checks, plain conditions in async tests, and threads."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


async def eventually(
    check: Callable[[], Awaitable[_T]],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.2,
) -> _T:
    """Await ``check()`` until it returns something truthy; return that, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last  # type: ignore[no-any-return]
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


async def until(
    condition: Callable[[], _T],
    timeout: float = 15.0,
    what: str = "condition",
    interval: float = 0.02,
) -> _T:
    """``eventually`` for a plain (not awaitable) condition, checked often."""

    async def check() -> _T:
        return condition()

    return await eventually(check, timeout, what, interval)


def wait_until(
    condition: Callable[[], _T],
    timeout: float = 15.0,
    what: str = "condition",
    interval: float = 0.05,
) -> _T:
    """The same for code that is not async (a test driving threads)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last  # type: ignore[no-any-return]
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")
