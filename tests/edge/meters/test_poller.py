"""The poll loop over real ptys: schedules, health figures, meter_offline once and recovery."""

import asyncio
import contextlib
import time
from pathlib import Path

from contract import Event, EventKind, FieldValue, Health, Severity, decode, encode, event_id
from contract.meters import MeterConfig
from edge.app import Gateway
from edge.meters.poller import MeterPoller, MeterReading
from edge.settings import GatewaySettings
from firmware_mocks.meters.modbus_slave import ModbusMeter, water_registers
from firmware_mocks.meters.pty_bus import PtyBus
from tests.edge.meters.conftest import ENERGY, WATER, config
from tests.waiting import until


async def test_meters_are_polled_on_schedule_and_a_silent_one_goes_offline_once(
    modbus_bus: PtyBus,
):
    modbus_bus.add(ModbusMeter(1, lambda: ENERGY))
    water = modbus_bus.add(ModbusMeter(2, lambda: WATER, water_registers))
    e = config(modbus_bus.port, id="m-e", poll_interval_s=0.3, offline_after_s=1.0)
    w = config(
        modbus_bus.port,
        id="m-w",
        address=2,
        profile="water",
        poll_interval_s=0.3,
        offline_after_s=1.0,
        retries=0,
    )
    readings: list[MeterReading] = []
    events: list[Event] = []
    poller = MeterPoller("gw-01", [e, w], on_reading=readings.append, on_event=events.append)
    task = asyncio.create_task(poller.run())
    try:
        await until(lambda: {r.meter for r in readings} == {"m-e", "m-w"}, what="both meters")
        water.silent = True
        await until(lambda: events, what="the meter_offline event")
        (offline,) = events
        assert offline.kind is EventKind.METER_OFFLINE
        assert offline.severity is Severity.LOW
        assert offline.device == "m-w"
        assert offline.evidence["flat"] == "f-1"
        assert "did not answer" in offline.evidence["last_error"]
        last_ok = poller.health["m-w"].last_ok
        assert last_ok is not None
        assert offline.id == event_id("m-w", EventKind.METER_OFFLINE, round(last_ok))

        polls = poller.health["m-w"].polls
        await until(lambda: poller.health["m-w"].polls >= polls + 3, what="more failed polls")
        assert len(events) == 1  # once per outage, however long it lasts
        figures = poller.figures()
        assert figures["meters_offline"] == 1
        assert figures["meter.m-w.online"] is False
        assert figures["meter.m-e.online"] is True
        assert int(figures["meter_timeouts"]) >= 4

        water.silent = False  # it comes back
        await until(lambda: not poller.health["m-w"].offline, what="recovery")
        assert poller.health["m-w"].recoveries == 1
        water.silent = True  # and goes again: a new outage, a new event
        await until(lambda: len(events) == 2, what="the second outage")
        assert events[1].id != events[0].id
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert poller.health["m-e"].polls_failed == 0  # the other meter never noticed
    assert poller.internal_errors == 0


def gateway_health(tmp_path: Path, meters: list[MeterConfig]) -> dict[str, FieldValue]:
    """The health figures of a gateway with these meters, as its heartbeat carries them."""
    settings = GatewaySettings(
        gateway_id="gw-01",
        data_dir=tmp_path,
        radio={"backend": "simulated"},  # type: ignore[arg-type]
        meters=meters,
    )
    gateway = Gateway(settings)
    try:
        return gateway.health()
    finally:
        gateway.outbox.close()
        gateway.store.close()


def test_meter_figures_join_the_gateways_heartbeat(tmp_path: Path):
    figures = gateway_health(tmp_path, [config(str(tmp_path / "ttyUSB0"), id="m-0001-e")])
    assert figures["meters_configured"] == 1
    assert figures["meters_online"] == 0
    assert figures["meter.m-0001-e.online"] is False
    assert "adverts_seen" in figures  # the wristband figures are still there


def test_a_gateway_with_a_districts_meters_still_sends_a_heartbeat_the_fleet_takes(tmp_path: Path):
    # Found by the district run: 80 meters, 8 figures each, and every heartbeat was
    # refused by the fleet (a heartbeat holds at most 256 figures).
    meters = [
        config(str(tmp_path / "ttyUSB0"), id=f"m-{i:04d}-e", address=i + 1) for i in range(80)
    ]
    figures = gateway_health(tmp_path, meters)
    heartbeat = Health(gateway="gw-01", ts=time.time(), uptime_s=1.0, figures=figures)
    assert decode(encode(heartbeat), Health).figures == figures  # what the fleet decodes
    assert figures["meters_configured"] == 80
    # None has answered yet: the first 16 are named, the rest counted.
    assert figures["meter.m-0000-e.online"] is False
    assert figures["meters_not_listed"] == 80 - 16
