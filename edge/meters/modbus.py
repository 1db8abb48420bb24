"""Modbus RTU meters through pymodbus's asyncio serial client — the only pymodbus import
on the gateway.

One client per port, shared by every Modbus meter on that bus; the bus lock above it
(edge.meters.bus) keeps requests strictly one at a time. pymodbus's own retries are
off (``retries=0``) so each attempt is counted here; its automatic reconnect is off
too (``reconnect_delay=0``): a lost port is reopened on the next request instead of
by a background task we cannot see.

pymodbus silently discards a frame whose CRC is wrong and then waits out the
timeout, so a failed request looks the same whether the meter said nothing or
something garbled. The client's ``trace_packet`` hook tells them apart: if bytes
arrived, the line carried a bad frame (CRC error, truncated answer, noise, an answer
from another address); if none did, the meter was silent.
"""

import logging

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException

from contract.meter_profiles import MeterField, RegisterField
from contract.meters import MeterConfig, SerialLine
from edge.meters.errors import BadFrame, MeterRefused, NoResponse, PortError

log = logging.getLogger(__name__)

# Modbus exception codes a meter may answer with (Modbus Application Protocol 1.1b3, 7).
_EXCEPTIONS = {
    1: "illegal function (the meter has no such register table)",
    2: "illegal data address (no such register: check the register map)",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
}

_DATATYPE = {
    "float32": AsyncModbusSerialClient.DATATYPE.FLOAT32,
    "uint16": AsyncModbusSerialClient.DATATYPE.UINT16,
    "int16": AsyncModbusSerialClient.DATATYPE.INT16,
    "uint32": AsyncModbusSerialClient.DATATYPE.UINT32,
    "int32": AsyncModbusSerialClient.DATATYPE.INT32,
}


def _quiet_pymodbus() -> None:
    # pymodbus logs every timeout at ERROR ("No response received ..."). An absent
    # meter would fill the gateway's log every poll; we count and report these instead.
    logger = logging.getLogger("pymodbus")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.CRITICAL)


class ModbusTransport:
    def __init__(self, line: SerialLine, timeout_s: float) -> None:
        _quiet_pymodbus()
        self.line = line
        self._received = 0
        self._client = AsyncModbusSerialClient(
            line.port,
            baudrate=line.baud,
            bytesize=8,
            parity=line.parity,
            stopbits=1,
            timeout=timeout_s,
            retries=0,
            reconnect_delay=0,
            name=f"modbus {line.port}",
            trace_packet=self._trace,
        )

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._received += len(data)
        return data

    async def _connect(self) -> None:
        if self._client.connected:
            return
        try:
            ok = await self._client.connect()
        except Exception as exc:  # termios.error and friends from the port
            raise PortError(f"cannot open {self.line.port}: {exc}") from None
        if not ok:
            raise PortError(f"cannot open {self.line.port} (missing, busy or refusing settings)")

    async def read_field(self, meter: MeterConfig, field: MeterField) -> float:
        spec = next(s for s in meter.register_map if s.field == field)
        await self._connect()
        self._received = 0
        read = (
            self._client.read_input_registers
            if spec.table == "input"
            else self._client.read_holding_registers
        )
        try:
            response = await read(spec.address, count=spec.count, device_id=meter.device_id)
        except ConnectionException as exc:
            self.close()
            raise PortError(f"{self.line.port}: {exc}") from None
        except ModbusException:
            if self._received:
                raise BadFrame(
                    f"meter {meter.id}: no valid answer for {field} "
                    f"({self._received} bytes of CRC error, truncated frame or noise)"
                ) from None
            raise NoResponse(
                f"meter {meter.id} (address {meter.address} on {self.line.port}) did not "
                f"answer: check wiring, address, baud ({self.line.baud}) and parity "
                f"({self.line.parity})"
            ) from None
        if response.isError():
            code = getattr(response, "exception_code", 0)
            raise MeterRefused(
                f"meter {meter.id} refused {field}: Modbus exception {code}, "
                f"{_EXCEPTIONS.get(code, 'unknown')}"
            )
        return self._value(meter, spec, list(response.registers))

    @staticmethod
    def _value(meter: MeterConfig, spec: RegisterField, registers: list[int]) -> float:
        if len(registers) != spec.count:
            raise BadFrame(f"meter {meter.id}: {len(registers)} registers, asked {spec.count}")
        raw = AsyncModbusSerialClient.convert_from_registers(
            registers, _DATATYPE[spec.type], word_order=spec.word_order
        )
        assert isinstance(raw, int | float)
        if spec.type == "float32":
            # A float32 holds about 7 significant digits; say no more than the meter
            # does (12345.67 kWh, not 12345.669921875).
            raw = float(f"{raw:.7g}")
        # Scaling by 0.001 leaves binary noise (321.45600000000002); trim it.
        return float(f"{float(raw) * spec.scale:.12g}")

    def close(self) -> None:
        self._client.close()
