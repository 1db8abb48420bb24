"""DL/T 645-2007 meters over the serial link: one request, one answer, per value."""

from contract.meter_profiles import MeterField
from contract.meters import MeterConfig, SerialLine
from edge.meters import dlt645
from edge.meters.errors import BadFrame, NoResponse
from edge.meters.serial_link import SerialLink

_ITEMS = {item.field: item for item in dlt645.READINGS}


class Dlt645Transport:
    def __init__(self, line: SerialLine, timeout_s: float) -> None:
        self.line = line
        self.timeout_s = timeout_s
        self._link = SerialLink(line)

    async def _ask(self, request: bytes, address: str, what: str) -> dlt645.Frame:
        received = await self._link.exchange(
            request,
            lambda data: dlt645.scan_answer(data, address).frame is not None,
            self.timeout_s,
        )
        result = dlt645.scan_answer(received.data, address)
        if result.frame is not None:
            return result.frame
        if received.data:
            raise BadFrame(f"{what}: {result.problem} ({len(received.data)} bytes)")
        raise NoResponse(
            f"{what}: no answer on {self.line.port}: check wiring, the address, baud "
            f"({self.line.baud}) and parity ({self.line.parity})"
        )

    async def read_field(self, meter: MeterConfig, field: MeterField) -> float:
        item = _ITEMS[field]
        frame = await self._ask(
            dlt645.read_request(meter.address, item.di),
            meter.address,
            f"meter {meter.id} ({meter.address}) {field}",
        )
        raw = dlt645.answer_value(frame, dlt645.Control.READ_DATA, item.di)
        return dlt645.bcd_value(raw, item)

    async def read_address(self) -> str:
        """The address of the one meter on the bus (wildcard request; one meter only)."""
        frame = await self._ask(
            dlt645.read_address_request(), dlt645.WILDCARD_ADDRESS, "read address"
        )
        dlt645.answer_value(frame, dlt645.Control.READ_ADDRESS, None)
        return frame.address

    def close(self) -> None:
        self._link.close()
