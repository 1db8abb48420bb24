"""A DL/T 645-2007 electricity meter as the bus sees it.

Answers "read data" (control 0x11) for energy 00010000, active power 02030000 and
phase-A voltage 02010100, and "read address" (0x13) sent to the wildcard address;
stays silent for other addresses, like a real meter. Written from the standard
independently of the gateway's codec (edge.meters.dlt645) so that each checks the
other. The address is BCD, low byte first on the wire; data bytes carry +0x33.
"""

from collections.abc import Callable
from dataclasses import dataclass

PREAMBLE = b"\xfe\xfe\xfe\xfe"

# DI -> (field, bytes, decimals, to-unit divisor, signed)
DATA_IDS: dict[int, tuple[str, int, int, float, bool]] = {
    0x00010000: ("energy_kwh", 4, 2, 1.0, False),
    0x02030000: ("power_w", 3, 4, 1000.0, True),  # kW on the wire
    0x02010100: ("voltage_v", 2, 1, 1.0, False),
}


def bcd(number: int, size: int) -> bytes:
    """Non-negative integer -> ``size`` BCD bytes, low byte first."""
    out = bytearray()
    for _ in range(size):
        number, pair = divmod(number, 100)
        out.append((pair // 10) << 4 | pair % 10)
    return bytes(out)


def frame(address_wire: bytes, control: int, data: bytes) -> bytes:
    body = bytes([0x68]) + address_wire + bytes([0x68, control, len(data)])
    body += bytes((b + 0x33) & 0xFF for b in data)
    return body + bytes([sum(body) & 0xFF, 0x16])


@dataclass(frozen=True, slots=True)
class Request:
    address_wire: bytes
    control: int
    data: bytes


def find_request(buffer: bytes) -> tuple[Request | None, int]:
    i = buffer.find(0x68)
    while i != -1 and len(buffer) >= i + 12:
        if buffer[i + 7] == 0x68:
            end = i + 12 + buffer[i + 9]
            if len(buffer) < end:
                return None, 0
            if buffer[end - 1] == 0x16 and sum(buffer[i : end - 2]) & 0xFF == buffer[end - 2]:
                data = bytes((b - 0x33) & 0xFF for b in buffer[i + 10 : end - 2])
                return Request(bytes(buffer[i + 1 : i + 7]), buffer[i + 8], data), end
        i = buffer.find(0x68, i + 1)
    return None, 0


class Dlt645Meter:
    protocol = "dlt645"

    def __init__(
        self, address: str, values: Callable[[], dict[str, float]], *, preamble: bool = True
    ) -> None:
        # As printed, e.g. "123456789012"; on the wire low byte first.
        self.address = address
        self.address_wire = bytes.fromhex(address)[::-1]
        self.values = values
        self.preamble = preamble
        self.requests = 0

    def answers(self, request: Request) -> bool:
        if request.control not in (0x11, 0x13):
            return False
        # 0xAA is a wildcard byte: a handheld reader's "whoever you are".
        return all(
            r in (0xAA, m) for r, m in zip(request.address_wire, self.address_wire, strict=True)
        )

    def respond(self, request: Request) -> bytes:
        self.requests += 1
        lead = PREAMBLE if self.preamble else b""
        if request.control == 0x13:
            return lead + frame(self.address_wire, 0x93, self.address_wire)
        di = int.from_bytes(request.data[:4], "little") if len(request.data) >= 4 else -1
        if di not in DATA_IDS:
            # Abnormal answer, error bit 1: no such data.
            return lead + frame(self.address_wire, 0xD1, b"\x02")
        name, size, decimals, divisor, signed = DATA_IDS[di]
        value = self.values()[name] / divisor
        raw = bytearray(bcd(round(abs(value) * 10**decimals), size))
        if signed and value < 0:
            raw[-1] |= 0x80
        return lead + frame(self.address_wire, 0x91, request.data[:4] + bytes(raw))
