"""The meter simulators speak the real wire formats, and the routine model behaves like a flat."""

import os
import select
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU

from edge.meters import dlt645
from firmware_mocks.meters.dlt645_slave import Dlt645Meter, find_request
from firmware_mocks.meters.modbus_slave import (
    READ_INPUT,
    ModbusMeter,
    ReadRequest,
    crc16,
    with_crc,
)
from firmware_mocks.meters.modbus_slave import (
    find_request as find_modbus_request,
)
from firmware_mocks.meters.pty_bus import PtyBus
from firmware_mocks.meters.usage import FRIDGE_W, STANDBY_W, FlatUsage, MeterTotals
from tests.waiting import wait_until

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 3, 2, tzinfo=TZ).timestamp()


def test_modbus_crc_matches_the_spec_example_and_pymodbus():
    # Modbus over Serial Line's example: read 1 holding register of device 1.
    assert with_crc(bytes.fromhex("010300000001")) == bytes.fromhex("010300000001840a")


@given(st.binary(min_size=1, max_size=64))
def test_modbus_crc_agrees_with_pymodbus(data: bytes):
    assert crc16(data).to_bytes(2, "little") == FramerRTU.compute_CRC(data).to_bytes(2, "big")


def test_a_modbus_request_is_found_behind_noise_and_a_bad_crc_is_ignored():
    request = with_crc(bytes.fromhex("0104015600 02".replace(" ", "")))
    assert find_modbus_request(b"\x00\x13" + request) == (ReadRequest(1, READ_INPUT, 0x156, 2), 10)
    assert find_modbus_request(request[:-1] + b"\x00") == (None, 0)


def test_a_modbus_meter_answers_float32_high_word_first():
    meter = ModbusMeter(3, lambda: {"voltage_v": 230.0, "power_w": 0.0, "energy_kwh": 1.0})
    answer = meter.respond(ReadRequest(3, READ_INPUT, 0x0000, 2))
    assert answer == with_crc(bytes.fromhex("030404436600 00".replace(" ", "")))


def test_a_dlt645_meter_answers_its_own_and_the_wildcard_address_only():
    meter = Dlt645Meter(
        "123456789012", lambda: {"energy_kwh": 12345.67, "power_w": 0.0, "voltage_v": 0.0}
    )
    for address, answers in (
        ("123456789012", True),
        ("AAAAAAAAAAAA", True),
        ("123456789013", False),
    ):
        request, _ = find_request(dlt645.read_request(address, 0x00010000))
        assert request is not None
        assert meter.answers(request) is answers
    request, _ = find_request(dlt645.read_request("123456789012", 0x00010000))
    assert request is not None
    # The gateway's codec (written separately) reads what the simulator says.
    frame = dlt645.decode_frame(meter.respond(request))
    raw = dlt645.answer_value(frame, dlt645.Control.READ_DATA, 0x00010000)
    assert dlt645.bcd_value(raw, dlt645.READINGS[0]) == 12345.67
    unknown, _ = find_request(dlt645.read_request("123456789012", 0x04000401))
    assert unknown is not None
    refusal = dlt645.decode_frame(meter.respond(unknown))
    assert refusal.control == 0xD1


def read_exactly(fd: int, size: int, timeout: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while (
        len(data) < size and select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]
    ):
        data += os.read(fd, size - len(data))
    return data


def test_the_pty_bus_carries_bytes_and_counts_requests_nobody_answers():
    with PtyBus("modbus") as bus:
        bus.add(ModbusMeter(1, lambda: {"voltage_v": 1.0, "power_w": 1.0, "energy_kwh": 1.0}))
        fd = os.open(bus.port, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, with_crc(bytes.fromhex("010400000002")))
            answer = read_exactly(fd, 9)  # id, function, byte count, 4 data bytes, CRC
            assert answer[:3] == bytes.fromhex("010404")
            os.write(fd, with_crc(bytes.fromhex("070400000002")))  # nobody is 7
            wait_until(lambda: bus.requests >= 2, 5, "the bus to count the unanswered request")
            noise = bus.noise(8)
            assert read_exactly(fd, 8) == noise
        finally:
            os.close(fd)
        assert (bus.requests, bus.unanswered) == (2, 1)


def test_the_routine_is_the_same_every_time_it_is_replayed():
    a, b = FlatUsage(seed=4), FlatUsage(seed=4)
    assert a.energy_kwh(MONDAY, MONDAY + 7 * 86400) == b.energy_kwh(MONDAY, MONDAY + 7 * 86400)
    assert FlatUsage(seed=5).plan(datetime.fromtimestamp(MONDAY, TZ).date()) != a.plan(
        datetime.fromtimestamp(MONDAY, TZ).date()
    )


@pytest.mark.parametrize("seed", range(1, 6))
def test_a_day_uses_what_one_elderly_person_uses(seed: int):
    usage = FlatUsage(seed=seed)
    day = MONDAY + seed * 86400
    assert 2.5 < usage.energy_kwh(day, day + 86400) < 6.0  # kWh
    assert 0.06 < usage.volume_m3(day, day + 86400) < 0.25  # 60-250 litres
    assert usage.volume_m3(day, day + 4 * 3600) < 0.015  # a night visit or two at most
    assert usage.volume_m3(day + 6 * 3600, day + 8 * 3600) > 0.01  # the morning routine


def test_after_a_fall_only_the_fridge_and_an_open_tap_go_on():
    usage = FlatUsage(seed=1)
    fall = MONDAY + 11.2 * 3600  # while cooking lunch
    usage.fall(fall, tap_left_running=True)
    for hours in (0.5, 3.0, 9.0):
        t = fall + hours * 3600
        assert usage.power_w(t) in (STANDBY_W, STANDBY_W + FRIDGE_W)
        assert usage.flow_m3h(t) == pytest.approx(0.3)
    totals = MeterTotals(usage, fall)
    before = totals.water(fall)["volume_m3"]
    assert totals.water(fall + 3600)["volume_m3"] - before == pytest.approx(0.3)
