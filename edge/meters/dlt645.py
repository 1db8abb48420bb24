"""DL/T 645-2007 frames: build read requests, find and check answers (pure, no I/O).

Frame (all multi-byte fields low byte first)::

    FE FE FE FE  68  A0 A1 A2 A3 A4 A5  68  C  L  D0 .. D(L-1)  CS  16
    wake-up      |   address (BCD)      |   |  |  data + 0x33   |   end
    preamble     start                start |  length           checksum: sum of the
                                      control                bytes from the first 68
                                                             through the data, mod 256

The address is the 12-digit number printed on the meter, in BCD, sent **low byte
first**: meter 123456789012 goes on the wire as ``12 90 78 56 34 12``. ``A`` digits
are wildcards (``AAAAAAAAAAAA`` reaches whichever single meter is on the bus). Every
data byte is sent plus 0x33 (mod 256), so that an all-zero payload still carries
transitions on the line. A read (control 0x11) carries a 4-byte data identifier (DI,
low byte first); the normal answer (0x91) repeats the DI and adds the value in BCD,
low byte first; an abnormal answer (0xD1) carries one error byte.

Why our own codec rather than the ``dlt645`` package on PyPI: that package is a real
implementation, but its ``set_address`` puts the address on the wire high byte first,
against the standard — every read would go to the wrong meter unless we reversed the
digits around it, a workaround that breaks silently the day the package is fixed. It
also brings its own serial transport, whereas every byte on our buses must pass the
one serial link and its per-port lock (edge.meters.serial_link). The codec needed
here — read data, read address, checksum, BCD — is under 200 lines and is tested
against the standard's own example frame.
"""

from dataclasses import dataclass
from enum import IntEnum

from contract.meter_profiles import MeterField
from edge.meters.errors import BadFrame, MeterRefused

START = 0x68
END = 0x16
PREAMBLE = b"\xfe\xfe\xfe\xfe"  # wakes the meter's UART; meters may echo 0-4 of them
OFFSET = 0x33
WILDCARD_ADDRESS = "AAAAAAAAAAAA"
_HEADER = 10  # 68 + 6 address bytes + 68 + control + length
_MAX_DATA = 200  # the standard caps L at 200 for reads


class Control(IntEnum):
    READ_DATA = 0x11
    READ_ADDRESS = 0x13


RESPONSE = 0x80  # D7: the frame comes from the meter
ABNORMAL = 0x40  # D6: the meter refuses
FOLLOWS = 0x20  # D5: more frames follow (never for the single values read here)

# Bits of the error byte in an abnormal answer (DL/T 645-2007, 7.3.2).
_ERRORS = (
    (0x02, "the meter has no such data (data identifier not supported)"),
    (0x04, "password wrong or not authorised"),
    (0x01, "other error"),
)


@dataclass(frozen=True, slots=True)
class DataItem:
    """One value the gateway reads, and its BCD layout in the answer."""

    di: int  # data identifier, e.g. 0x00010000
    field: MeterField
    size: int  # bytes of BCD
    decimals: int  # implied decimal places
    scale: float  # to the field's unit
    signed: bool  # the top bit of the top byte is the sign (power flows backwards)


# DL/T 645-2007 Appendix A.
READINGS: tuple[DataItem, ...] = (
    # (current) forward active total energy, XXXXXX.XX kWh
    DataItem(0x00010000, "energy_kwh", 4, 2, 1.0, signed=False),
    # instantaneous total active power, XX.XXXX kW -> W
    DataItem(0x02030000, "power_w", 3, 4, 1000.0, signed=True),
    # phase A voltage, XXX.X V
    DataItem(0x02010100, "voltage_v", 2, 1, 1.0, signed=False),
)


@dataclass(frozen=True, slots=True)
class Frame:
    address: str  # 12 characters as printed on the meter (digits, or A for wildcards)
    control: int
    data: bytes  # with the 0x33 offset already removed


def address_to_wire(address: str) -> bytes:
    """'123456789012' -> 12 90 78 56 34 12 (BCD, low byte first); 'A' digits stay 0xA."""
    text = address.strip().upper()
    if len(text) != 12 or any(c not in "0123456789A" for c in text):
        raise ValueError(f"a DL/T 645 address is 12 digits, got {address!r}")
    pairs = [int(text[i : i + 2], 16) for i in range(0, 12, 2)]
    return bytes(reversed(pairs))


def address_from_wire(raw: bytes) -> str:
    return "".join(f"{b:02X}" for b in reversed(raw))


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def encode_frame(frame: Frame, *, preamble: bool = True) -> bytes:
    if len(frame.data) > _MAX_DATA:
        raise ValueError(f"DL/T 645 data field is at most {_MAX_DATA} bytes")
    body = (
        bytes([START])
        + address_to_wire(frame.address)
        + bytes([START, frame.control, len(frame.data)])
        + bytes((b + OFFSET) & 0xFF for b in frame.data)
    )
    return (PREAMBLE if preamble else b"") + body + bytes([checksum(body), END])


def read_request(address: str, di: int) -> bytes:
    return encode_frame(Frame(address, Control.READ_DATA, di.to_bytes(4, "little")))


def read_address_request() -> bytes:
    return encode_frame(Frame(WILDCARD_ADDRESS, Control.READ_ADDRESS, b""))


@dataclass(frozen=True, slots=True)
class Scan:
    """What a receive buffer holds so far: a frame, or why it is not one (yet)."""

    frame: Frame | None = None
    problem: str = ""
    end: int = 0  # where the frame ends in the buffer


def scan(buffer: bytes) -> Scan:
    """Find the first valid frame in ``buffer``, skipping preamble and line noise.

    A candidate starts at a 0x68 followed, seven bytes on, by another 0x68. A candidate
    whose checksum or end byte is wrong is skipped (it may be noise that looks like a
    start) and the search goes on; if no valid frame follows, the scan says why.
    """
    problems: list[str] = []
    i = buffer.find(START)
    while i != -1:
        if len(buffer) < i + _HEADER:
            problems.append("truncated frame")
        elif buffer[i + 7] == START:
            length = buffer[i + 9]
            end = i + _HEADER + length + 2
            if length > _MAX_DATA:
                problems.append(f"length {length} out of range")
            elif len(buffer) < end:
                problems.append("truncated frame")
            elif buffer[end - 1] != END:
                problems.append("no end byte 0x16")
            elif checksum(buffer[i : end - 2]) != buffer[end - 2]:
                problems.append("checksum error")
            else:
                data = bytes((b - OFFSET) & 0xFF for b in buffer[i + _HEADER : end - 2])
                frame = Frame(address_from_wire(buffer[i + 1 : i + 7]), buffer[i + 8], data)
                return Scan(frame=frame, end=end)
        i = buffer.find(START, i + 1)
    if problems:
        # The first candidate is the likeliest frame; say what was wrong with it.
        return Scan(problem=problems[0])
    return Scan(problem="garbage (no frame start)" if buffer.strip(b"\xfe") else "")


def address_matches(pattern: str, address: str) -> bool:
    """Whether a meter at ``address`` answers a request sent to ``pattern`` (A: any digit)."""
    return len(pattern) == len(address) and all(
        p in ("A", a) for p, a in zip(pattern.upper(), address.upper(), strict=True)
    )


def scan_answer(buffer: bytes, address: str) -> Scan:
    """The first answer from ``address`` in ``buffer``, skipping our own request (an
    adapter with local echo hands it back) and answers from other meters on the bus."""
    offset = 0
    first_problem = ""
    while True:
        result = scan(buffer[offset:])
        if result.frame is None:
            return Scan(problem=first_problem or result.problem)
        frame = result.frame
        if frame.control & RESPONSE and address_matches(address, frame.address):
            return Scan(frame=frame, end=offset + result.end)
        if not first_problem and frame.control & RESPONSE:
            first_problem = f"answer from another meter ({frame.address})"
        offset += result.end


def decode_frame(raw: bytes) -> Frame:
    """Decode one whole frame (preamble allowed); raise BadFrame naming the problem."""
    result = scan(raw)
    if result.frame is None:
        raise BadFrame(f"not a DL/T 645 frame: {result.problem or 'empty'}")
    return result.frame


def answer_value(frame: Frame, request_control: int, di: int | None) -> bytes:
    """The payload of a meter's answer to our request, or the reason it is not one."""
    if not frame.control & RESPONSE:
        raise BadFrame(f"frame with control {frame.control:#04x} is a request, not an answer")
    if frame.control & 0x1F != request_control:
        raise BadFrame(
            f"answer to control {frame.control & 0x1F:#04x}, we asked {request_control:#04x}"
        )
    if frame.control & ABNORMAL:
        code = frame.data[0] if frame.data else 0
        reasons = [text for bit, text in _ERRORS if code & bit] or [f"error byte {code:#04x}"]
        raise MeterRefused("the meter refused: " + "; ".join(reasons))
    if di is None:
        return frame.data
    if len(frame.data) < 4 or int.from_bytes(frame.data[:4], "little") != di:
        raise BadFrame(f"answer carries another data identifier than {di:08X}")
    return frame.data[4:]


def bcd_value(raw: bytes, item: DataItem) -> float:
    """Turn an answer's BCD bytes (low byte first) into the field's unit."""
    if len(raw) != item.size:
        raise BadFrame(f"{item.field}: {len(raw)} data bytes, expected {item.size}")
    top = raw[-1]
    negative = item.signed and bool(top & 0x80)
    digits = raw[:-1] + bytes([top & 0x7F]) if item.signed else raw
    number = 0
    for byte in reversed(digits):
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            raise BadFrame(f"{item.field}: byte {byte:#04x} is not BCD")
        number = number * 100 + high * 10 + low
    value = float(number) / float(10**item.decimals) * item.scale
    return -value if negative else value


def bcd_encode(value: float, item: DataItem) -> bytes:
    """The inverse of :func:`bcd_value` (used by tests and the meter simulator)."""
    number = round(abs(value) / item.scale * 10**item.decimals)
    # A signed value gives up the top bit of its top byte: at most 7x in that byte.
    limit = (8 if item.signed else 10) * 10 ** (2 * item.size - 1)
    if number >= limit:
        raise ValueError(f"{value} does not fit {item.field}'s {item.size} BCD bytes")
    digits = f"{number:0{2 * item.size}d}"
    raw = bytearray(int(digits[i : i + 2], 16) for i in range(0, len(digits), 2))
    raw.reverse()
    if item.signed and value < 0:
        raw[-1] |= 0x80
    return bytes(raw)
