"""The fleet's product clock (contract/clock.py): real time, or the district
simulation's scaled time, installed once by the composition root from the ``clock``
setting.

Everything the fleet records or decides by time goes through it: alerts' and events'
timestamps, escalation timers, delivery retries' due times, SLA figures, "gateway
offline for too long", battery forecasts. Waiting for a product-time moment converts
to real seconds with :func:`wait_s`, which keeps polls from spinning when the clock
runs fast. Network timeouts stay on real time.
"""

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from contract.clock import SYSTEM, Clock

_clock: Clock = SYSTEM
# The district's local time: when "today" starts for SLA figures and digests, and the
# times written in messages. A setting (``timezone``), as on the gateway.
_zone: tzinfo = ZoneInfo("Asia/Shanghai")


def install(clock: Clock, zone: tzinfo | None = None) -> None:
    global _clock, _zone  # noqa: PLW0603 - one clock per process, set by the composition root
    _clock = clock
    if zone is not None:
        _zone = zone


def zone() -> tzinfo:
    return _zone


def local_text(at: datetime, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A moment as people of the district read it."""
    return at.astimezone(_zone).strftime(fmt)


def current() -> Clock:
    return _clock


def now() -> float:
    return _clock.now()


def utcnow() -> datetime:
    return _clock.utcnow()


def product_s(wall_s: float) -> float:
    """Product seconds that pass in ``wall_s`` real seconds: a span of network time
    (a send's lease) written as a product-time deadline."""
    return wall_s * _clock.speed


def wait_s(product_s: float, *, floor_s: float = 0.01, cap_s: float | None = None) -> float:
    """Real seconds to wait for ``product_s`` of product time, within [floor, cap]."""
    seconds = max(_clock.wall(product_s), floor_s)
    return seconds if cap_s is None else min(seconds, cap_s)


def poll_s(product_s: float, *, floor_s: float = 0.1) -> float:
    """The real period of a poll meant to run every ``product_s`` of product time: at
    most every ``floor_s`` real seconds, however fast the clock runs."""
    return max(_clock.wall(product_s), floor_s)
