"""DL/T 645-2007 meters through the gateway's serial link, over a pty, against simulated meters."""

import asyncio

import pytest

from edge.meters.bus import Bus
from edge.meters.dlt645_transport import Dlt645Transport
from edge.meters.errors import BadFrame, NoResponse
from firmware_mocks.meters.dlt645_slave import Dlt645Meter, Request
from firmware_mocks.meters.pty_bus import Fault, PtyBus
from tests.edge.meters.conftest import ENERGY, config, health

ADDRESS = "123456789012"


def dlt(port: str, **overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {"protocol": "dlt645", "address": ADDRESS, "profile": None}
    values.update(overrides)
    return config(port, **values)


async def read(bus_port: str, **overrides: object) -> tuple[dict[str, float], object]:
    meter = dlt(bus_port, **overrides)
    h = health(meter)
    bus = Bus.for_meters([meter])
    try:
        return await bus.read_meter(meter, h), h
    finally:
        bus.close()


async def test_a_meter_reads_as_energy_power_and_voltage(dlt645_bus: PtyBus):
    dlt645_bus.add(Dlt645Meter(ADDRESS, lambda: {**ENERGY, "power_w": -1234.5}))
    values, _ = await read(dlt645_bus.port)
    assert values == {"energy_kwh": 12345.67, "power_w": -1234.5, "voltage_v": 230.1}


async def test_the_wildcard_address_finds_the_only_meter_on_the_bus(dlt645_bus: PtyBus):
    dlt645_bus.add(Dlt645Meter("000012345678", lambda: ENERGY))
    transport = Dlt645Transport(dlt(dlt645_bus.port).line, 0.2)
    try:
        assert await transport.read_address() == "000012345678"
    finally:
        transport.close()


async def test_two_meters_on_one_bus_and_a_wrong_address_stays_silent(dlt645_bus: PtyBus):
    first = dlt645_bus.add(Dlt645Meter("000000000001", lambda: ENERGY))
    second = dlt645_bus.add(Dlt645Meter("000000000002", lambda: {**ENERGY, "energy_kwh": 2.5}))
    a = dlt(dlt645_bus.port, id="m-a", address="000000000001")
    b = dlt(dlt645_bus.port, id="m-b", address="000000000002")
    nobody = dlt(dlt645_bus.port, id="m-x", address="000000000003", retries=0)
    bus = Bus.for_meters([a, b, nobody])
    try:
        results = await asyncio.gather(
            *(bus.read_meter(m, health(m)) for _ in range(5) for m in (a, b))
        )
        with pytest.raises(NoResponse, match="no answer on"):
            await bus.read_meter(nobody, health(nobody))
    finally:
        bus.close()
    assert {r["energy_kwh"] for r in results[0::2]} == {12345.67}
    assert {r["energy_kwh"] for r in results[1::2]} == {2.5}
    assert (first.answered, second.answered) == (15, 15)


@pytest.mark.parametrize(
    "fault", [Fault.BAD_CHECKSUM, Fault.TRUNCATED, Fault.GARBAGE, Fault.SILENT]
)
async def test_a_spoiled_or_missing_answer_is_counted_and_retried(dlt645_bus: PtyBus, fault: Fault):
    dlt645_bus.add(Dlt645Meter(ADDRESS, lambda: ENERGY)).inject(fault)
    values, h = await read(dlt645_bus.port)
    assert values["energy_kwh"] == 12345.67
    expected = (0, 1) if fault is Fault.SILENT else (1, 0)
    assert (h.bad_frames, h.timeouts) == expected  # type: ignore[attr-defined]
    assert h.retries == 1  # type: ignore[attr-defined]


async def test_noise_in_front_of_an_answer_is_skipped_without_a_retry(dlt645_bus: PtyBus):
    dlt645_bus.add(Dlt645Meter(ADDRESS, lambda: ENERGY)).inject(Fault.NOISE_BEFORE, times=3)
    values, h = await read(dlt645_bus.port)
    assert values["energy_kwh"] == 12345.67
    assert h.retries == 0  # type: ignore[attr-defined]


async def test_garbage_on_the_line_between_polls_and_a_late_answer_are_shrugged_off(
    dlt645_bus: PtyBus,
):
    station = dlt645_bus.add(Dlt645Meter(ADDRESS, lambda: ENERGY))
    meter = dlt(dlt645_bus.port, retries=3)
    h = health(meter)
    bus = Bus.for_meters([meter])
    try:
        assert (await bus.read_meter(meter, h))["voltage_v"] == 230.1
        dlt645_bus.noise(40)
        station.inject(Fault.LATE)
        assert (await bus.read_meter(meter, h))["voltage_v"] == 230.1
        assert (await bus.read_meter(meter, h))["voltage_v"] == 230.1
    finally:
        bus.close()
    # The late answer costs an attempt: a timeout, or a bad frame if the noise was
    # still arriving when the request went out.
    assert h.timeouts + h.bad_frames >= 1


class OldMeter(Dlt645Meter):
    """An early DL/T 645-2007 meter that keeps no instantaneous power (02030000)."""

    def respond(self, request: Request) -> bytes:
        if request.data[:4] == (0x02030000).to_bytes(4, "little"):
            request = Request(request.address_wire, request.control, b"\xff\xff\xff\xff")
        return super().respond(request)


async def test_a_value_the_meter_does_not_keep_is_left_out_not_retried(dlt645_bus: PtyBus):
    old = dlt645_bus.add(OldMeter(ADDRESS, lambda: ENERGY))
    values, h = await read(dlt645_bus.port)
    assert values == {"energy_kwh": 12345.67, "voltage_v": 230.1}
    assert h.refusals == 1  # type: ignore[attr-defined]
    assert old.answered == 3


async def test_a_corrupted_value_is_a_bad_frame(dlt645_bus: PtyBus):
    class Corrupt(Dlt645Meter):
        def respond(self, request: Request) -> bytes:
            raw = bytearray(super().respond(request))
            # Make a data byte non-BCD (0xAA after the offset) and fix the checksum.
            raw[-3] = (0xAA + 0x33) & 0xFF
            raw[-2] = sum(raw[4:-2]) & 0xFF
            return bytes(raw)

    dlt645_bus.add(Corrupt(ADDRESS, lambda: ENERGY))
    with pytest.raises(BadFrame, match="not BCD"):
        await read(dlt645_bus.port, retries=0)
