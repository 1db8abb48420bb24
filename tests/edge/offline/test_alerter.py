"""Offline SMS: the alerter, the real modem driver, the emulator on a pty, a real outbox."""

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract import Event, EventKind, Severity, decode, encode, event_id
from contract.config import BandConfig, GatewayConfig, ReceivedConfig, ResidentConfig
from contract.sealing import generate_keypair, seal
from edge.config_push import open_config
from edge.offline.alerter import OfflineAlerter, sms_text
from edge.offline.modem import Modem, SmsModem
from edge.outbox import Outbox
from edge.settings import ModemSettings
from firmware_mocks.modem import ModemEmulator
from tests.factories import KEY, MAC
from tests.factories import event as make_event
from tests.waiting import until

PRIVATE, PUBLIC = generate_keypair()
NUMBERS = ["+8613800138000", "+8613900139000"]
OTHER_MAC = "C2:00:00:00:00:02"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Link:
    """How long the uplink has been down, as the uplink would say."""

    def __init__(self, offline_for: float) -> None:
        self.offline = offline_for

    def __call__(self) -> float:
        return self.offline


@pytest.fixture
def emulator() -> Iterator[ModemEmulator]:
    with ModemEmulator() as emu:
        yield emu


def alerter(
    tmp_path: Path, emulator: ModemEmulator, link: Link, clock: Clock, locale: str = "zh-CN"
) -> OfflineAlerter:
    settings = ModemSettings(
        port=emulator.port, offline_after_s=60, command_timeout_s=2, send_timeout_s=5
    )
    a = OfflineAlerter(
        settings,
        Outbox(tmp_path / "o.db"),
        SmsModem(Modem(settings)),
        link,
        clock=clock,
        sweep_s=0.05,
    )
    config = GatewayConfig(
        gateway="gw-01",
        version=1,
        bands=[
            BandConfig(mac=MAC, sealed_key=seal(PUBLIC, KEY), resident="r-1"),
            BandConfig(mac=OTHER_MAC, sealed_key=seal(PUBLIC, KEY), resident="r-2"),
        ],
        residents=[
            ResidentConfig(
                resident="r-1",
                sms_locale=locale,  # type: ignore[arg-type]
                sealed_contacts=seal(PUBLIC, json.dumps(NUMBERS).encode()),
            ),
            ResidentConfig(resident="r-2"),  # nobody to text
        ],
    )
    a.apply_config(open_config(ReceivedConfig(config), PRIVATE))
    return a


def queue(a: OfflineAlerter, event: Event) -> None:
    a._outbox.put_event(event.id, "sg/v1/gw/gw-01/event", encode(event))


def stored(a: OfflineAlerter, event: Event) -> Event:
    entry = a._outbox.event(event.id)
    assert entry is not None
    return decode(entry.payload, Event)


async def test_the_sms_waits_until_the_uplink_has_been_down_for_the_span(
    tmp_path: Path, emulator: ModemEmulator
):
    link = Link(offline_for=0.0)
    a = alerter(tmp_path, emulator, link, Clock())
    queue(a, make_event())
    task = asyncio.create_task(a.run())
    try:
        await until(lambda: a.looks >= 3, what="several looks with the link up")
        link.offline = 59.0
        looked = a.looks
        await until(lambda: a.looks >= looked + 3, what="several looks, down not long enough")
        assert emulator.messages == []
        link.offline = 61.0
        messages = await asyncio.to_thread(emulator.wait_for, 2, 10)
        assert [m.number for m in messages] == NUMBERS
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_after_the_span_each_caregiver_gets_one_sms_and_the_event_is_marked(
    tmp_path: Path, emulator: ModemEmulator, caplog: pytest.LogCaptureFixture
):
    caplog.set_level("DEBUG")
    a = alerter(tmp_path, emulator, Link(offline_for=120.0), Clock())
    sos = make_event()
    low = make_event(
        id=event_id(MAC, "low_battery", 1), kind=EventKind.LOW_BATTERY, severity=Severity.LOW
    )
    queue(a, sos)
    queue(a, low)
    assert await a.sweep() == 2
    assert [m.number for m in emulator.messages] == NUMBERS
    assert emulator.messages[0].text == sms_text(sos, "zh-CN")
    assert "紧急求救" in emulator.messages[0].text
    marked = stored(a, sos)
    assert marked.notified_locally
    assert marked.evidence["local_sms_reached"] == 2
    assert not stored(a, low).notified_locally  # not critical: left to the fleet
    assert await a.sweep() == 0  # once is enough
    assert len(emulator.messages) == 2
    for number in NUMBERS:
        assert number[3:] not in caplog.text  # numbers never reach the log


async def test_a_failed_number_is_retried_later_and_the_reached_one_not_again(
    tmp_path: Path, emulator: ModemEmulator
):
    clock = Clock()
    a = alerter(tmp_path, emulator, Link(offline_for=120.0), clock, locale="en")
    sos = make_event()
    queue(a, sos)
    emulator.fail_next_sends(331)
    assert await a.sweep() == 1
    assert [m.number for m in emulator.messages] == NUMBERS[1:]
    assert stored(a, sos).notified_locally  # someone knows already
    assert a.counters.failed == 1
    assert "331" in a.counters.last_error
    assert await a.sweep() == 0  # not before the retry delay
    clock.t += 16
    assert await a.sweep() == 1
    assert [m.number for m in emulator.messages] == [NUMBERS[1], NUMBERS[0]]
    assert emulator.messages[0].charset == "GSM"
    assert stored(a, sos).evidence["local_sms_reached"] == 2


async def test_an_event_from_a_band_without_contacts_is_counted_not_texted(
    tmp_path: Path, emulator: ModemEmulator
):
    a = alerter(tmp_path, emulator, Link(offline_for=120.0), Clock())
    queue(a, make_event(id=event_id(OTHER_MAC, "sos", 5), device=OTHER_MAC))
    assert await a.sweep() == 0
    assert a.counters.events_without_contacts == 1
    assert emulator.messages == []
