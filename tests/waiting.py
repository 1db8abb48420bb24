"""Waiting on conditions with a timeout — never sleep and hope."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(
    check: Callable[[], Awaitable[Any]],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.2,
) -> Any:
    """Await ``check()`` until it returns something truthy; return that, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")
