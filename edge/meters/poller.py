"""Polls every configured meter on its schedule and reports readings and health.

One task per meter; meters on one port share a :class:`~edge.meters.bus.Bus`, whose
lock keeps their requests apart. Each meter keeps a fixed cadence (next poll = start +
k x interval, not "sleep after the poll"), and meters on one bus start staggered so
they do not all queue for the lock at once. Nothing a meter or the line does can end
a poll loop: meter errors are counted, anything unexpected is logged and the loop goes
on.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from contract import Event, FieldValue
from contract.meters import MeterConfig
from edge.meters.bus import Bus
from edge.meters.errors import MeterError
from edge.meters.health import MeterHealth

log = logging.getLogger(__name__)


# Meters whose own figures go into the heartbeat (8 each), at most.
_METERS_LISTED = 16


@dataclass(frozen=True, slots=True)
class MeterReading:
    meter: str
    flat: str
    utility: str  # electricity | water
    ts: float
    fields: dict[str, float]


class MeterPoller:
    def __init__(
        self,
        gateway_id: str,
        meters: list[MeterConfig],
        *,
        on_reading: Callable[[MeterReading], None],
        on_event: Callable[[Event], None],
        clock: Callable[[], float] = time.time,
        wall: Callable[[float], float] = float,
        last_ok: Mapping[str, float] | None = None,
    ) -> None:
        """``clock`` is product time (readings' timestamps); ``wall`` turns a product
        span (a poll interval) into real seconds to wait (the same unless simulated)."""
        self.meters = meters
        self._on_reading = on_reading
        self._on_event = on_event
        self._clock = clock
        self._wall = wall
        by_port: dict[str, list[MeterConfig]] = {}
        for meter in meters:
            by_port.setdefault(meter.port, []).append(meter)
        self.buses = {port: Bus.for_meters(group) for port, group in by_port.items()}
        now = clock()
        self.health = {
            m.id: MeterHealth(
                m.id,
                m.flat,
                gateway_id,
                m.offline_after_s,
                started_at=now,
                last_ok=(last_ok or {}).get(m.id),
            )
            for m in meters
        }
        self.internal_errors = 0

    async def poll(self, meter: MeterConfig) -> MeterReading | None:
        """Read ``meter`` once; report the reading and any offline event."""
        health = self.health[meter.id]
        bus = self.buses[meter.port]
        reading = None
        try:
            values = await bus.read_meter(meter, health)
        except MeterError as exc:
            health.poll_failed(exc)
            # Say it once per run of failures; the counters carry the rest.
            level = logging.WARNING if health.failures_in_a_row == 1 else logging.DEBUG
            log.log(level, "meter %s: %s", meter.id, exc)
        else:
            now = self._clock()
            health.poll_succeeded(now)
            reading = MeterReading(meter.id, meter.flat, meter.utility, now, values)
            self._on_reading(reading)
        event = health.check(self._clock())
        if event is not None:
            self._on_event(event)
        return reading

    async def _run_meter(self, meter: MeterConfig, offset_s: float) -> None:
        loop = asyncio.get_running_loop()
        interval = self._wall(meter.poll_interval_s)
        next_at = loop.time() + self._wall(offset_s)
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await self.poll(meter)
            except Exception:
                # A bug must not silence a meter for good: log it, count it, go on.
                self.internal_errors += 1
                log.exception("meter %s: unexpected error while polling", meter.id)
            next_at += interval
            if next_at < loop.time():  # the poll overran: skip, do not burst
                next_at = loop.time() + interval

    async def run(self) -> None:
        if not self.meters:
            return
        try:
            async with asyncio.TaskGroup() as tasks:
                per_port: dict[str, int] = {}
                for meter in self.meters:
                    slot = per_port.get(meter.port, 0)
                    per_port[meter.port] = slot + 1
                    on_bus = sum(1 for m in self.meters if m.port == meter.port)
                    tasks.create_task(
                        self._run_meter(meter, slot * meter.poll_interval_s / on_bus),
                        name=f"meter {meter.id}",
                    )
        finally:
            self.close()

    def close(self) -> None:
        for bus in self.buses.values():
            bus.close()

    def figures(self) -> dict[str, FieldValue]:
        health = list(self.health.values())
        figures: dict[str, FieldValue] = {
            "meters_configured": len(health),
            "meters_online": sum(1 for h in health if h.last_ok is not None and not h.offline),
            "meters_offline": sum(1 for h in health if h.offline),
            "meter_polls": sum(h.polls for h in health),
            "meter_polls_failed": sum(h.polls_failed for h in health),
            "meter_timeouts": sum(h.timeouts for h in health),
            "meter_bad_frames": sum(h.bad_frames for h in health),
            "meter_refusals": sum(h.refusals for h in health),
            "meter_port_errors": sum(h.port_errors for h in health),
            "meter_retries": sum(h.retries for h in health),
            "meter_internal_errors": self.internal_errors,
        }
        # Each meter's own figures, while they fit: a heartbeat holds at most 256
        # (contract Health.figures), and a gateway with the district's 80 meters had
        # every heartbeat refused. Beyond a few meters, those that need a look
        # (offline, never answered) come first, and the list stops at the cap; the
        # totals above always count them all.
        troubled = [h for h in health if h.offline or h.last_ok is None]
        listed = health if len(health) <= _METERS_LISTED else troubled[:_METERS_LISTED]
        for h in listed:
            figures.update(h.figures())
        figures["meters_not_listed"] = len(health) - len(listed)
        return figures
