"""systemd's service notifications (sd_notify) and the liveness they vouch for.

The unit runs the gateway with ``Type=notify`` and ``WatchdogSec=``: systemd waits for
``READY=1`` and restarts the gateway if ``WATCHDOG=1`` stops coming. The protocol is
one datagram of ``KEY=value`` lines to the Unix socket named in ``$NOTIFY_SOCKET``
(a leading ``@`` means Linux's abstract namespace) — small enough to own rather than
depend on an unmaintained package.

``WATCHDOG=1`` is sent only while the gateway is healthy: the event loop answers (else
this task would not run at all), every loop that registered with ``Liveness`` has
beaten recently, and the outbox database answers a query. A broken uplink is *not*
unhealthy — a restart would not bring the network back, and offline alerting must go
on — so the uplink does not beat here.
"""

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self._address = address
        self._failed_once = False
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is meant for; a child that
        # inherited the environment must not ping on its parent's behalf.
        mine = not pid or pid == str(os.getpid())
        self.watchdog_s: float | None = int(usec) / 1e6 if usec.isdigit() and mine else None

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, *lines: str) -> bool:
        """Send one notification (e.g. "READY=1", "STATUS=..."); never raises."""
        if not self._address:
            return False
        message = "\n".join(line.replace("\n", " ") for line in lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(message)
        except OSError as exc:
            if not self._failed_once:
                self._failed_once = True
                log.warning("watchdog: cannot notify systemd at %r: %s", self._address, exc)
            return False
        return True


class Liveness:
    """Beats from the loops that must keep running; healthy while every one is fresh."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._within: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def expect(self, name: str, within_s: float) -> None:
        self._within[name] = within_s
        self._last[name] = self._clock()

    def beat(self, name: str) -> None:
        self._last[name] = self._clock()

    def stale(self) -> list[str]:
        now = self._clock()
        return [name for name, within in self._within.items() if now - self._last[name] > within]


async def keep_alive(
    notifier: SystemdNotifier,
    liveness: Liveness,
    *,
    probe: Callable[[], None],
    status: Callable[[], str],
    interval_s: float | None = None,
) -> None:
    """Ping systemd's watchdog at half its period while healthy; say why when not."""
    period = interval_s or (notifier.watchdog_s / 2 if notifier.watchdog_s else 10.0)
    unhealthy = False
    while True:
        problems = liveness.stale()
        try:
            probe()
        except Exception as exc:
            problems.append(f"outbox: {exc}")
        if problems:
            if not unhealthy:
                log.error("watchdog: not healthy (%s); withholding WATCHDOG=1", ", ".join(problems))
            unhealthy = True
            notifier.notify(f"STATUS=unhealthy: {', '.join(problems)}")
        else:
            if unhealthy:
                log.info("watchdog: healthy again")
            unhealthy = False
            notifier.notify("WATCHDOG=1", f"STATUS={status()}")
        await asyncio.sleep(period)
