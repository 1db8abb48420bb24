"""The real pyserial modem driver against the modem emulator on a pseudo-terminal."""

from collections.abc import Iterator

import pytest

from edge.offline.gsm import ModemError
from edge.offline.modem import Modem
from edge.settings import ModemSettings
from firmware_mocks.modem import ModemEmulator


@pytest.fixture
def emulator() -> Iterator[ModemEmulator]:
    with ModemEmulator() as emu:
        yield emu


def modem(emu: ModemEmulator, **overrides: object) -> Modem:
    values: dict[str, object] = {"port": emu.port, "command_timeout_s": 2, "send_timeout_s": 5}
    values.update(overrides)
    return Modem(ModemSettings.model_validate(values))


def test_chinese_text_reaches_every_number_in_ucs2(emulator: ModemEmulator):
    results = modem(emulator).send(["+8613800138000", "13900139000"], "【银护】紧急：求救")
    assert results == [1, 2]
    assert [(m.number, m.text, m.charset) for m in emulator.messages] == [
        ("+8613800138000", "【银护】紧急：求救", "UCS2"),
        ("13900139000", "【银护】紧急：求救", "UCS2"),
    ]
    # The conversation a real modem expects: text mode, charset, then the sends.
    assert emulator.commands[:6] == [
        "AT",
        "ATE0",
        "AT+CMEE=1",
        "AT+CMGF=1",
        'AT+CSCS="UCS2"',
        "AT+CSMP=17,167,0,8",
    ]


def test_english_text_goes_in_the_gsm_charset(emulator: ModemEmulator):
    assert modem(emulator).send(["+447700900123"], "Silverguard URGENT: SOS") == [1]
    (sms,) = emulator.messages
    assert (sms.number, sms.text, sms.charset) == (
        "+447700900123",
        "Silverguard URGENT: SOS",
        "GSM",
    )


def test_a_network_refusal_is_reported_per_number(emulator: ModemEmulator):
    emulator.fail_next_sends(331)
    first, second = modem(emulator).send(["+8613800138000", "+8613900139000"], "SOS")
    assert isinstance(first, ModemError)
    assert "331 (no network service)" in str(first)
    assert second == 1
    assert [m.number for m in emulator.messages] == ["+8613900139000"]


def test_a_silent_modem_times_out_with_a_clear_error(emulator: ModemEmulator):
    emulator.silent = True
    (result,) = modem(emulator, command_timeout_s=0.3).send(["+8613800138000"], "SOS")
    assert isinstance(result, ModemError)
    assert "did not answer AT" in str(result)


def test_a_missing_port_is_an_error_not_a_crash():
    settings = ModemSettings(port="/dev/does-not-exist", command_timeout_s=0.3)
    (result,) = Modem(settings).send(["+8613800138000"], "SOS")
    assert isinstance(result, ModemError)
    assert "cannot open" in str(result)
    assert "8613800138000" not in str(result)
