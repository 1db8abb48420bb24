"""Each meter's health: what went wrong how often, and whether it has gone silent.

Pure: the poller reports outcomes with the time, and asks :meth:`MeterHealth.check`
whether the meter has now been silent for ``offline_after_s``. That raises one
``meter_offline`` event per outage; its id is keyed by the last good reading, so a
restarted gateway that restores ``last_ok`` does not raise the same outage twice. A
good reading ends the outage; the next one raises a new event.
"""

import logging
from dataclasses import dataclass

from contract import Event, EventKind, FieldValue, Severity
from edge.meters.errors import BadFrame, MeterError, MeterRefused, NoResponse, PortError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class MeterHealth:
    meter: str
    flat: str
    gateway: str
    offline_after_s: float
    started_at: float  # silence is measured from here until the first good reading
    polls: int = 0
    polls_failed: int = 0
    timeouts: int = 0
    bad_frames: int = 0
    refusals: int = 0
    port_errors: int = 0
    retries: int = 0
    recoveries: int = 0
    failures_in_a_row: int = 0
    last_ok: float | None = None
    last_error: str = ""
    offline: bool = False

    def record(self, error: MeterError) -> None:
        """Count one failed request (a poll may make several)."""
        if isinstance(error, NoResponse):
            self.timeouts += 1
        elif isinstance(error, BadFrame):
            self.bad_frames += 1
        elif isinstance(error, MeterRefused):
            self.refusals += 1
        elif isinstance(error, PortError):
            self.port_errors += 1
        self.last_error = str(error)

    def poll_succeeded(self, now: float) -> bool:
        """Record a good poll; True if it ends an outage."""
        self.polls += 1
        self.last_ok = now
        self.failures_in_a_row = 0
        if self.offline:
            self.offline = False
            self.recoveries += 1
            log.info("meter %s answers again", self.meter)
            return True
        return False

    def poll_failed(self, error: MeterError) -> None:
        self.polls += 1
        self.polls_failed += 1
        self.failures_in_a_row += 1
        self.last_error = str(error)

    @property
    def silent_since(self) -> float:
        return self.last_ok if self.last_ok is not None else self.started_at

    def check(self, now: float) -> Event | None:
        """The meter_offline event, once, when the meter has been silent long enough."""
        silent_s = now - self.silent_since
        if self.offline or silent_s < self.offline_after_s:
            return None
        self.offline = True
        log.warning("meter %s silent for %.0f s: %s", self.meter, silent_s, self.last_error)
        since = round(self.silent_since)
        return Event.incident(
            EventKind.METER_OFFLINE,
            Severity.LOW,  # device care: the routine rules lose a witness
            device=self.meter,
            key=since,
            gateway=self.gateway,
            occurred_at=self.silent_since,
            detected_at=now,
            evidence={
                "flat": self.flat,
                "silent_s": round(silent_s),
                "last_error": self.last_error,
                "timeouts": self.timeouts,
                "bad_frames": self.bad_frames,
                "port_errors": self.port_errors,
            },
        )

    def figures(self) -> dict[str, FieldValue]:
        prefix = f"meter.{self.meter}."
        return {
            prefix + "online": not self.offline and self.last_ok is not None,
            prefix + "polls": self.polls,
            prefix + "polls_failed": self.polls_failed,
            prefix + "timeouts": self.timeouts,
            prefix + "bad_frames": self.bad_frames,
            prefix + "refusals": self.refusals,
            prefix + "port_errors": self.port_errors,
            prefix + "retries": self.retries,
        }
