"""The MQTT client both sides carry the contract with: aiomqtt's, made safe to cancel.

aiomqtt 2.x waits for CONNACK, SUBACK and PUBACK with ``asyncio.wait_for``, which on
Python 3.11 drops a cancellation that arrives as the awaited acknowledgement completes
(an ack published at shutdown, say): the task then runs on and the process never
stops. ``asyncio.timeout`` does not lose it. The gateway's uplink (edge/uplink/mqtt.py)
and the fleet's ingest (fleet/ingest/consumer.py) subclass this for their own needs.
This leans on one aiomqtt internal (``_wait_for``); pyproject pins aiomqtt below 3.
"""

import asyncio
import contextlib
import math
from collections.abc import Awaitable
from typing import TypeVar

import aiomqtt

_T = TypeVar("_T")


class Client(aiomqtt.Client):
    async def _wait_for(self, fut: Awaitable[_T], timeout: float | None) -> _T:
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(None if limit == math.inf else limit):
                return await fut
        except TimeoutError:
            raise aiomqtt.MqttError("Operation timed out") from None


async def wait_event(event: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait for ``event`` at most ``timeout_s``; True if it was set.

    ``asyncio.timeout``, not ``asyncio.wait_for``, for the reason above: every idle
    loop of both sides waits this way.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()
            return True
    return False
