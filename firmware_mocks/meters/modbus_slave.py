"""A Modbus RTU meter as the bus sees it: answers function 03/04 reads for its own id.

Written from the Modbus over Serial Line spec, not with pymodbus, so that the gateway's
pymodbus client is checked against an independent implementation. (pymodbus's own
simulator also answers ids it does not serve with exception 4, where a real meter
stays silent.)

Frames: ``id | fc | start(2) | count(2) | CRC`` in, ``id | fc | bytes | data | CRC``
out; CRC-16/MODBUS (init 0xFFFF, reflected polynomial 0xA001), low byte first.
"""

import struct
from collections.abc import Callable
from dataclasses import dataclass

READ_HOLDING = 0x03
READ_INPUT = 0x04


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(frame: bytes) -> bytes:
    return frame + crc16(frame).to_bytes(2, "little")


@dataclass(frozen=True, slots=True)
class ReadRequest:
    device_id: int
    function: int
    start: int
    count: int


def find_request(buffer: bytes) -> tuple[ReadRequest | None, int]:
    """The first well-formed read request in ``buffer`` and how many bytes it ends at.

    A slave delimits frames by silence; here we also hunt for a valid CRC, so noise in
    front of a request is skipped like a real UART's framing errors would drop it.
    """
    for i in range(len(buffer) - 7):
        frame = buffer[i : i + 8]
        if frame[1] in (READ_HOLDING, READ_INPUT) and crc16(frame[:6]) == int.from_bytes(
            frame[6:], "little"
        ):
            device_id, function, start, count = struct.unpack(">BBHH", frame[:6])
            return ReadRequest(device_id, function, start, count), i + 8
    return None, 0


# A register image: (table, address) -> 16-bit word.
Registers = dict[tuple[int, int], int]


def float32_words(value: float) -> tuple[int, int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return high, low


def uint32_words(value: int) -> tuple[int, int]:
    value &= 0xFFFFFFFF
    return value >> 16, value & 0xFFFF


def sdm120_registers(values: dict[str, float]) -> Registers:
    """Eastron SDM120: input registers, float32, high word first."""
    image: Registers = {}
    for name, address in (("voltage_v", 0x0000), ("power_w", 0x000C), ("energy_kwh", 0x0156)):
        high, low = float32_words(values[name])
        image[(READ_INPUT, address)] = high
        image[(READ_INPUT, address + 1)] = low
    return image


def water_registers(values: dict[str, float]) -> Registers:
    """The built-in ``water`` layout: holding registers, uint32 litres and litres/hour."""
    image: Registers = {}
    for name, address in (("volume_m3", 0x0000), ("flow_m3h", 0x0002)):
        high, low = uint32_words(round(values[name] * 1000))
        image[(READ_HOLDING, address)] = high
        image[(READ_HOLDING, address + 1)] = low
    return image


class ModbusMeter:
    """Answers reads for ``device_id`` from a register image built at each request."""

    protocol = "modbus"

    def __init__(
        self,
        device_id: int,
        values: Callable[[], dict[str, float]],
        layout: Callable[[dict[str, float]], Registers] = sdm120_registers,
    ) -> None:
        self.device_id = device_id
        self.values = values
        self.layout = layout
        self.requests = 0

    def answers(self, request: ReadRequest) -> bool:
        return request.device_id == self.device_id

    def respond(self, request: ReadRequest) -> bytes:
        self.requests += 1
        image = self.layout(self.values())
        words = [image.get((request.function, request.start + k)) for k in range(request.count)]
        if not 1 <= request.count <= 125 or None in words:
            # Exception 2, illegal data address: what meters say for unmapped registers.
            return with_crc(bytes([self.device_id, request.function | 0x80, 0x02]))
        data = b"".join(int(w or 0).to_bytes(2, "big") for w in words)
        return with_crc(bytes([self.device_id, request.function, len(data)]) + data)
