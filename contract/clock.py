"""The one clock every process takes its product time from: real time in production,
scaled time in the district simulation.

Product time is what the rules, the alerts and the figures mean by "now": when an
event happened, how long a resident has been still, when an escalation step is due,
how long a caregiver took. Network time — reconnect backoff, resend intervals, MQTT
keep-alives, HTTP timeouts — stays real: a broker does not answer faster because the
simulation runs fast.

A :class:`ScaledClock` is fully described by three numbers (the simulated start, the
real time at that start, the speed), so every process given the same ``clock``
setting shares one timeline, to the precision of the machine's clock, without talking
to each other: ``scaled:1790000000:1733300000.25:300`` runs 300 simulated seconds per
real second from 1790000000 (simulated) at 1733300000.25 (real). Nothing waits by
sleeping in simulated time except through :meth:`Clock.sleep`, which divides by the
speed.
"""

import asyncio
import time
from datetime import UTC, datetime


class Clock:
    """Real time (the production clock)."""

    speed = 1.0

    def now(self) -> float:
        """Unix seconds."""
        return time.time()

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def wall(self, seconds: float) -> float:
        """Real seconds that pass while ``seconds`` pass on this clock."""
        return seconds / self.speed

    async def sleep(self, seconds: float, *, min_wall_s: float = 0.0) -> None:
        """Wait ``seconds`` of this clock's time (at least ``min_wall_s`` real seconds:
        periodic work that must not spin when the clock runs fast)."""
        await asyncio.sleep(max(self.wall(seconds), min_wall_s))

    def setting(self) -> str:
        """The ``clock`` setting that builds this clock in another process."""
        return ""


class ScaledClock(Clock):
    """Simulated time: ``speed`` simulated seconds per real second from ``start``."""

    def __init__(self, start: float, wall_start: float, speed: float) -> None:
        if not speed > 0:
            raise ValueError("the clock's speed must be above 0")
        self.start = start
        self.wall_start = wall_start
        self.speed = speed

    def now(self) -> float:
        return self.start + (time.time() - self.wall_start) * self.speed

    def setting(self) -> str:
        return f"scaled:{self.start!r}:{self.wall_start!r}:{self.speed!r}"


SYSTEM = Clock()


def parse_clock(text: str) -> Clock:
    """A clock from its setting: empty (real time) or ``scaled:START:WALL_START:SPEED``."""
    if not text.strip():
        return SYSTEM
    kind, _, rest = text.strip().partition(":")
    if kind != "scaled":
        raise ValueError(f"unknown clock {kind!r}: leave it empty, or scaled:START:WALL:SPEED")
    try:
        start, wall_start, speed = (float(part) for part in rest.split(":"))
    except ValueError:
        raise ValueError(
            "a scaled clock is scaled:START:WALL_START:SPEED (three numbers)"
        ) from None
    return ScaledClock(start, wall_start, speed)


def validate_clock(text: str) -> str:
    """For settings: the text if it names a clock, else ValueError saying how to write it."""
    parse_clock(text)
    return text
