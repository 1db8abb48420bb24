"""The AT command codec: golden answers from modem manuals, and properties."""

from hypothesis import given
from hypothesis import strategies as st

from edge.offline.gsm import (
    Charset,
    FinalKind,
    LineReader,
    charset_for,
    cmgs_command,
    decode_ucs2,
    encode_ucs2,
    fit,
    message_body,
    parse_final,
    parse_message_reference,
    ucs2_units,
)


def test_chinese_goes_as_ucs2_hex_and_so_does_the_number():
    assert charset_for("求救") is Charset.UCS2
    assert encode_ucs2("求救") == "6C426551"
    # With AT+CSCS="UCS2" the modem reads the number in UCS2 hex too.
    assert cmgs_command("+8613", Charset.UCS2) == 'AT+CMGS="002B0038003600310033"'
    assert message_body("求救", Charset.UCS2) == b"6C426551\x1a"


def test_plain_english_goes_as_gsm_text():
    assert charset_for("SOS at 10:32, please call.") is Charset.GSM
    assert cmgs_command("+8613", Charset.GSM) == 'AT+CMGS="+8613"'
    assert message_body("SOS", Charset.GSM) == b"SOS\x1a"


def test_characters_that_differ_in_the_gsm_alphabet_force_ucs2():
    for text in ("a@b", "cost $5", "snake_case", "[x]", "naïve"):
        assert charset_for(text) is Charset.UCS2


def test_final_results_as_modems_send_them():
    assert parse_final("OK").kind is FinalKind.OK  # type: ignore[union-attr]
    assert parse_final("ERROR").kind is FinalKind.ERROR  # type: ignore[union-attr]
    cms = parse_final("+CMS ERROR: 330")
    assert cms is not None
    assert cms.code == 330
    assert cms.describe() == "+CMS ERROR 330 (SMSC address unknown)"
    cme = parse_final("+CME ERROR: SIM not inserted")  # AT+CMEE=2 style, verbose
    assert cme is not None
    assert cme.kind is FinalKind.CME_ERROR
    assert cme.code is None
    assert parse_final("+CMGS: 17") is None
    assert parse_final("RING") is None
    assert parse_message_reference("+CMGS: 17") == 17
    assert parse_message_reference('+CMTI: "SM",3') is None


def test_the_prompt_is_found_without_a_line_end():
    reader = LineReader()
    assert reader.feed(b"\r\n> ") == []
    assert reader.take_prompt()
    assert reader.feed(b"\r\n+CMGS: 5\r\n\r\nOK\r\n") == ["+CMGS: 5", "OK"]


def test_a_message_longer_than_one_sms_is_cut_to_fit():
    assert len(fit("x" * 200)) == 160
    assert fit("x" * 200).endswith("...")
    assert ucs2_units(fit("救" * 100)) == 70
    assert fit("short") == "short"


@given(st.text(max_size=200))
def test_ucs2_round_trips_any_text(text: str):
    assert decode_ucs2(encode_ucs2(text)) == text


@given(st.text(max_size=300))
def test_fit_always_fits_one_sms(text: str):
    cut = fit(text)
    if charset_for(cut) is Charset.GSM:
        assert len(cut) <= 160
    else:
        assert ucs2_units(cut) <= 70


@given(st.binary(max_size=300))
def test_any_bytes_from_the_line_neither_crash_nor_invent_results(data: bytes):
    reader = LineReader()
    for line in reader.feed(data):
        final = parse_final(line)
        if final is not None:
            assert final.kind.value in line
        parse_message_reference(line)
    reader.take_prompt()


@given(
    st.lists(st.sampled_from(["OK", "+CMGS: 12", "ERROR", "+CMS ERROR: 331", "RING"]), max_size=8),
    st.data(),
)
def test_lines_come_out_the_same_however_the_stream_is_split(lines: list[str], data: st.DataObject):
    stream = b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    reader = LineReader()
    out: list[str] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += reader.feed(stream[start:cut])
        start = cut
    assert out == lines
