"""One RS-485 bus: one port, one lock, strictly one request at a time, a rest between.

RS-485 is half duplex and every meter on it hears every frame; two masters' frames,
or a request sent while a meter is still answering, garble both. So each port has one
lock, held from a request until its answer (or timeout) plus an inter-frame gap.
Modbus RTU needs at least 3.5 character times of silence between frames (Modbus over
Serial Line 1.02, 2.5.1.1); we rest at least 20 ms, because USB adapters deliver bytes
in chunks (an FTDI chip's latency timer is 16 ms) and cheap meters need time to turn
their transceiver around.
"""

import asyncio
import logging
from typing import Protocol

from contract.meter_profiles import MeterField
from contract.meters import MeterConfig, SerialLine
from edge.meters.dlt645_transport import Dlt645Transport
from edge.meters.errors import MeterError, MeterRefused
from edge.meters.health import MeterHealth
from edge.meters.modbus import ModbusTransport

log = logging.getLogger(__name__)

_MIN_GAP_S = 0.02


class Transport(Protocol):
    async def read_field(self, meter: MeterConfig, field: MeterField) -> float: ...

    def close(self) -> None: ...


def make_transport(protocol: str, line: SerialLine, timeout_s: float) -> Transport:
    if protocol == "modbus":
        return ModbusTransport(line, timeout_s)
    return Dlt645Transport(line, timeout_s)


class Bus:
    def __init__(self, line: SerialLine, protocol: str, timeout_s: float) -> None:
        self.line = line
        self.protocol = protocol
        self.timeout_s = timeout_s
        self._transport: Transport | None = None
        self.gap_s = max(3.5 * line.char_time_s, _MIN_GAP_S)
        self._lock = asyncio.Lock()
        self.requests = 0

    @classmethod
    def for_meters(cls, meters: list[MeterConfig]) -> "Bus":
        """The bus the given meters share (same port, protocol and line settings)."""
        first = meters[0]
        # One timeout for the bus: the slowest meter on it sets the pace.
        return cls(first.line, first.protocol, max(m.timeout_s for m in meters))

    @property
    def transport(self) -> Transport:
        # Made on first use: pymodbus's client must be created inside the event loop.
        if self._transport is None:
            self._transport = make_transport(self.protocol, self.line, self.timeout_s)
        return self._transport

    async def read_field(self, meter: MeterConfig, field: MeterField) -> float:
        async with self._lock:
            try:
                return await self.transport.read_field(meter, field)
            finally:
                self.requests += 1
                await asyncio.sleep(self.gap_s)

    async def read_meter(self, meter: MeterConfig, health: MeterHealth) -> dict[str, float]:
        """Every field of ``meter``; each request retried up to ``meter.retries`` times.

        A refused field is left out (an old meter without instantaneous power still
        gives its energy); the poll fails if a field cannot be read at all for any other
        reason, or if nothing could be read.
        """
        values: dict[str, float] = {}
        refused: MeterRefused | None = None
        for field in meter.fields:
            for attempt in range(meter.retries + 1):
                try:
                    values[field] = await self.read_field(meter, field)
                    break
                except MeterRefused as exc:  # it will say no again: no retry
                    health.record(exc)
                    refused = exc
                    break
                except MeterError as exc:
                    health.record(exc)
                    if attempt == meter.retries:
                        raise
                    health.retries += 1
        if not values:
            raise refused or MeterRefused(f"meter {meter.id} gave no values")
        return values

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
