"""The DL/T 645-2007 codec against the standard's frames, and properties over any frame."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.meters import dlt645
from edge.meters.errors import BadFrame, MeterRefused

# DL/T 645-2007's worked example: read (current) forward active total energy,
# DI 00 01 00 00, from the wildcard address.
STANDARD_READ_ENERGY = bytes.fromhex("fefefefe 68 aaaaaaaaaaaa 68 11 04 33333433 ae 16")


def test_a_read_request_is_the_standards_example_frame_byte_for_byte():
    assert dlt645.read_request("AAAAAAAAAAAA", 0x00010000) == STANDARD_READ_ENERGY


def test_the_printed_address_goes_on_the_wire_low_byte_first():
    frame = dlt645.read_request("123456789012", 0x00010000)
    assert frame[4] == 0x68
    assert frame[5:11] == bytes.fromhex("129078563412")
    assert dlt645.address_from_wire(frame[5:11]) == "123456789012"


def test_an_answer_decodes_to_energy_in_kwh():
    # Meter 123456789012 answering 12345.67 kWh: DI then 67 45 23 01, each +0x33.
    body = bytes.fromhex("68 129078563412 68 91 08 33333433 9a785634")
    answer = b"\xfe\xfe" + body + bytes([sum(body) & 0xFF, 0x16])
    frame = dlt645.decode_frame(answer)
    assert frame.address == "123456789012"
    assert frame.control == 0x91
    raw = dlt645.answer_value(frame, dlt645.Control.READ_DATA, 0x00010000)
    assert dlt645.bcd_value(raw, dlt645.READINGS[0]) == 12345.67


def test_power_carries_its_sign_in_the_top_bit():
    power = dlt645.READINGS[1]
    assert dlt645.bcd_encode(-1234.5, power) == bytes.fromhex("452381")
    assert dlt645.bcd_value(bytes.fromhex("452381"), power) == -1234.5
    assert dlt645.bcd_value(bytes.fromhex("452301"), power) == 1234.5


def test_an_abnormal_answer_is_a_refusal_naming_the_reason():
    frame = dlt645.Frame("123456789012", 0xD1, b"\x02")
    with pytest.raises(MeterRefused, match="no such data"):
        dlt645.answer_value(frame, dlt645.Control.READ_DATA, 0x02030000)


def test_an_answer_for_another_data_identifier_is_a_bad_frame():
    frame = dlt645.Frame("123456789012", 0x91, (0x02010100).to_bytes(4, "little") + b"\x98\x22")
    with pytest.raises(BadFrame, match="another data identifier"):
        dlt645.answer_value(frame, dlt645.Control.READ_DATA, 0x00010000)


def test_non_bcd_digits_are_a_bad_frame():
    with pytest.raises(BadFrame, match="not BCD"):
        dlt645.bcd_value(bytes.fromhex("1a"), dlt645.DataItem(0, "voltage_v", 1, 0, 1.0, False))


def test_scan_skips_our_own_echo_and_another_meters_answer():
    ours = dlt645.encode_frame(
        dlt645.Frame("000000000002", 0x91, b"\x00\x00\x01\x00\x00\x00\x00\x00")
    )
    theirs = dlt645.encode_frame(
        dlt645.Frame("000000000001", 0x91, b"\x00\x00\x01\x00\x00\x00\x00\x00")
    )
    echo = dlt645.read_request("000000000002", 0x00010000)
    result = dlt645.scan_answer(echo + theirs + ours, "000000000002")
    assert result.frame is not None
    assert result.frame.address == "000000000002"
    assert dlt645.scan_answer(echo + theirs, "000000000002").problem.startswith(
        "answer from another"
    )


def test_a_wildcard_request_accepts_any_address():
    assert dlt645.address_matches("AAAAAAAAAAAA", "123456789012")
    assert dlt645.address_matches("AAAAAAAA9012", "123456789012")
    assert not dlt645.address_matches("AAAAAAAA9013", "123456789012")


@pytest.mark.parametrize(
    ("buffer", "problem"),
    [
        (STANDARD_READ_ENERGY[:-5], "truncated frame"),
        (STANDARD_READ_ENERGY[:-2] + b"\x00\x16", "checksum error"),
        (STANDARD_READ_ENERGY[:-1] + b"\x17", "no end byte 0x16"),
        (b"\x01\x02\x03", "garbage (no frame start)"),
        (b"", ""),
    ],
)
def test_scan_says_what_is_wrong(buffer: bytes, problem: str):
    assert dlt645.scan(buffer) == dlt645.Scan(problem=problem)


addresses = st.text(alphabet="0123456789", min_size=12, max_size=12)
frames = st.builds(
    dlt645.Frame,
    address=addresses,
    control=st.integers(0, 255),
    data=st.binary(max_size=200),
)


@given(frames, st.booleans())
def test_encode_then_decode_gives_the_frame_back(frame: dlt645.Frame, preamble: bool):
    assert dlt645.decode_frame(dlt645.encode_frame(frame, preamble=preamble)) == frame


@given(frames, st.data())
def test_a_flipped_byte_is_never_taken_for_the_frame(frame: dlt645.Frame, data: st.DataObject):
    raw = bytearray(dlt645.encode_frame(frame, preamble=False))
    at = data.draw(st.integers(0, len(raw) - 1), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    raw[at] ^= flip
    result = dlt645.scan(bytes(raw))
    # One changed addend changes the sum mod 256, so the checksum catches any single
    # corrupted byte; a corrupted start or end byte breaks the framing. Only a changed
    # length could (by rare chance) frame a different, shorter, self-consistent frame.
    if at == 9:
        assert result.frame != frame
    else:
        assert result.frame is None


@given(st.binary(max_size=64), frames, st.binary(max_size=64))
def test_noise_around_a_frame_does_not_hide_it(before: bytes, frame: dlt645.Frame, after: bytes):
    result = dlt645.scan_answer(
        before + dlt645.encode_frame(dlt645.Frame(frame.address, 0x91, frame.data)) + after,
        frame.address,
    )
    assert result.frame == dlt645.Frame(frame.address, 0x91, frame.data)


@given(st.binary(max_size=300))
def test_any_bytes_scan_without_crashing(data: bytes):
    result = dlt645.scan(data)
    assert result.frame is not None or isinstance(result.problem, str)


@given(st.floats(0, 999999.99, allow_nan=False))
def test_energy_bcd_round_trips(kwh: float):
    item = dlt645.READINGS[0]
    # Two decimals on the wire: at most half a hundredth off (plus float slack).
    assert dlt645.bcd_value(dlt645.bcd_encode(kwh, item), item) == pytest.approx(kwh, abs=0.00501)
