"""Modbus RTU meters through pymodbus's serial client, over a pty, against simulated meters."""

import asyncio
import time

import pytest

from edge.meters.bus import Bus
from edge.meters.errors import MeterRefused, NoResponse, PortError
from firmware_mocks.meters.modbus_slave import (
    READ_HOLDING,
    ModbusMeter,
    Registers,
    water_registers,
)
from firmware_mocks.meters.pty_bus import Fault, PtyBus
from tests.edge.meters.conftest import ENERGY, WATER, config, health


async def test_an_sdm120_reads_as_voltage_power_and_energy(modbus_bus: PtyBus):
    modbus_bus.add(ModbusMeter(1, lambda: ENERGY))
    meter = config(modbus_bus.port)
    bus = Bus.for_meters([meter])
    try:
        values = await bus.read_meter(meter, health(meter))
    finally:
        bus.close()
    # float32 on the wire; the gateway reports the meter's 7 significant digits.
    assert values == {"voltage_v": 230.1, "power_w": 512.5, "energy_kwh": 12345.67}


async def test_two_meters_on_one_bus_each_answer_for_themselves(modbus_bus: PtyBus):
    energy = modbus_bus.add(ModbusMeter(1, lambda: ENERGY))
    water = modbus_bus.add(ModbusMeter(2, lambda: WATER, water_registers))
    e = config(modbus_bus.port, id="m-e")
    w = config(modbus_bus.port, id="m-w", address=2, profile="water")
    bus = Bus.for_meters([e, w])
    try:
        # Both polled at once: the bus lock keeps the requests strictly one at a time.
        results = await asyncio.gather(
            *(bus.read_meter(m, health(m)) for _ in range(10) for m in (e, w))
        )
    finally:
        bus.close()
    assert results[0]["energy_kwh"] == 12345.67
    assert results[1] == {"volume_m3": 321.456, "flow_m3h": 0.3}
    assert all(r == results[i % 2] for i, r in enumerate(results))
    assert energy.answered == 30
    assert water.answered == 20
    assert modbus_bus.unanswered == 0  # no garbled (colliding) request went unanswered


async def test_a_generic_register_map_from_config(modbus_bus: PtyBus):
    def layout(values: dict[str, float]) -> Registers:
        # Litres as uint32 with the LOW word first, at holding register 0x0010.
        litres = round(values["volume_m3"] * 1000)
        return {(READ_HOLDING, 0x10): litres & 0xFFFF, (READ_HOLDING, 0x11): litres >> 16}

    modbus_bus.add(ModbusMeter(5, lambda: {"volume_m3": 98765.432}, layout))
    meter = config(
        modbus_bus.port,
        address=5,
        profile=None,
        registers=[
            {
                "field": "volume_m3",
                "table": "holding",
                "address": 0x10,
                "type": "uint32",
                "word_order": "little",
                "scale": 0.001,
            }
        ],
    )
    bus = Bus.for_meters([meter])
    try:
        assert await bus.read_meter(meter, health(meter)) == {"volume_m3": 98765.432}
    finally:
        bus.close()


@pytest.mark.parametrize("fault", [Fault.BAD_CHECKSUM, Fault.TRUNCATED, Fault.GARBAGE])
async def test_a_spoiled_answer_is_counted_and_retried(modbus_bus: PtyBus, fault: Fault):
    station = modbus_bus.add(ModbusMeter(1, lambda: ENERGY))
    station.inject(fault)
    meter = config(modbus_bus.port)
    h = health(meter)
    bus = Bus.for_meters([meter])
    try:
        values = await bus.read_meter(meter, h)
    finally:
        bus.close()
    assert values["energy_kwh"] == 12345.67
    assert (h.bad_frames, h.timeouts, h.retries) == (1, 0, 1)


async def test_a_silent_meter_times_out_after_its_retries_and_others_carry_on(modbus_bus: PtyBus):
    modbus_bus.add(ModbusMeter(1, lambda: ENERGY))
    gone = config(modbus_bus.port, id="m-gone", address=9, retries=1)
    here = config(modbus_bus.port)
    h = health(gone)
    bus = Bus.for_meters([gone, here])
    try:
        started = time.monotonic()
        with pytest.raises(NoResponse, match=r"m-gone \(address 9 on .*\) did not answer"):
            await bus.read_meter(gone, h)
        elapsed = time.monotonic() - started
        assert await bus.read_meter(here, health(here)) == ENERGY
    finally:
        bus.close()
    assert (h.timeouts, h.retries) == (2, 1)
    assert elapsed < 2.5  # two timeouts of 0.5 s and the gaps, not a hang
    assert modbus_bus.unanswered == 2


async def test_a_late_answer_does_not_confuse_the_next_request(modbus_bus: PtyBus):
    station = modbus_bus.add(ModbusMeter(1, lambda: ENERGY))
    station.inject(Fault.LATE)
    meter = config(modbus_bus.port, retries=3)
    h = health(meter)
    bus = Bus.for_meters([meter])
    try:
        values = await bus.read_meter(meter, h)
        again = await bus.read_meter(meter, h)
    finally:
        bus.close()
    assert values == again == ENERGY
    assert h.timeouts >= 1


async def test_an_exception_answer_is_a_refusal_and_not_retried(modbus_bus: PtyBus):
    station = modbus_bus.add(ModbusMeter(1, lambda: WATER, water_registers))
    meter = config(modbus_bus.port)  # an SDM120 map against a water meter: no such registers
    h = health(meter)
    bus = Bus.for_meters([meter])
    try:
        with pytest.raises(MeterRefused, match="exception 2, illegal data address"):
            await bus.read_meter(meter, h)
    finally:
        bus.close()
    assert h.refusals == 3  # one per field, none retried
    assert station.answered == 3


async def test_a_missing_port_is_a_port_error_not_a_crash(tmp_path):
    meter = config(str(tmp_path / "ttyUSB9"))
    h = health(meter)
    bus = Bus.for_meters([meter])
    try:
        with pytest.raises(PortError, match="cannot open"):
            await bus.read_meter(meter, h)
    finally:
        bus.close()
    assert h.port_errors == 3
