"""The meter service as the gateway wires it: telemetry, events in the outbox, saved state."""

import asyncio
import contextlib
import json
import logging
from pathlib import Path

import pytest

from contract import Event, EventKind, TelemetryBatch, decode
from contract.config import GatewayConfig
from edge.config_push import DesiredConfig
from edge.decode.bthome import BTHomeDecoder
from edge.meters.service import MeterService
from edge.outbox import Outbox
from edge.pipeline import Pipeline
from edge.rules.routine_settings import RoutineSettings
from firmware_mocks.meters.modbus_slave import ModbusMeter, water_registers
from firmware_mocks.meters.pty_bus import PtyBus
from tests.edge.meters.conftest import ENERGY, WATER, config
from tests.edge.meters.test_poller import until


def pipeline(tmp_path: Path) -> Pipeline:
    return Pipeline("gw-01", BTHomeDecoder({}), Outbox(tmp_path / "outbox.db"))


def stored_events(p: Pipeline) -> list[Event]:
    return [decode(e.payload, Event) for e in p.outbox.pending("event")]


def service(tmp_path: Path, p: Pipeline, port: str) -> MeterService:
    meters = [
        # The answering meter gets a wide offline span: on a loaded machine a slow poll
        # must not make it look offline; the silent one goes offline quickly.
        config(port, id="m-e", poll_interval_s=0.2, offline_after_s=10.0),
        config(
            port,
            id="m-w",
            address=2,
            profile="water",
            poll_interval_s=0.2,
            offline_after_s=0.8,
            retries=0,
        ),
    ]
    return MeterService(
        "gw-01",
        meters,
        RoutineSettings(),
        state_path=tmp_path / "routine.json",
        on_reading=p.add_reading,
        on_event=p.store_event,
        tick_s=0.1,
        save_s=0.2,
    )


@contextlib.asynccontextmanager
async def running(s: MeterService):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(s.run())
    try:
        yield s
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_readings_become_meter_telemetry_and_an_outage_one_event(
    tmp_path: Path, modbus_bus: PtyBus
):
    modbus_bus.add(ModbusMeter(1, lambda: ENERGY))
    water = modbus_bus.add(ModbusMeter(2, lambda: WATER, water_registers))
    p = pipeline(tmp_path)
    async with running(service(tmp_path, p, modbus_bus.port)) as s:
        await until(lambda: s.poller.health["m-w"].polls >= 2, what="two polls")
        assert p.flush_telemetry() >= 2
        batch = decode(p.outbox.pending("telemetry")[0].payload, TelemetryBatch)
        by_meter = {r.device: r for r in batch.readings}
        assert by_meter["m-e"].kind == "meter"
        assert by_meter["m-e"].fields == ENERGY
        assert by_meter["m-w"].fields == WATER

        water.silent = True
        await until(lambda: stored_events(p), what="the offline event in the outbox")
        (offline,) = stored_events(p)
        assert offline.kind is EventKind.METER_OFFLINE
        assert offline.device == "m-w"
    saved = json.loads((tmp_path / "routine.json").read_text())
    assert set(saved["last_ok"]) == {"m-e", "m-w"}
    assert "f-1" in saved["routine"]["water"]["flats"]

    # Restarted while the meter is still silent: the same outage gives the same id,
    # so the outbox (and the fleet) keep one event.
    p2 = pipeline(tmp_path / "again")
    async with running(service(tmp_path, p2, modbus_bus.port)):
        await until(lambda: stored_events(p2), what="the offline event after restart")
    assert [e.id for e in stored_events(p2)] == [offline.id]


def test_a_damaged_saved_state_is_set_aside_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    (tmp_path / "routine.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        s = service(tmp_path, pipeline(tmp_path), "/dev/null")
    assert "starting afresh" in caplog.text
    assert s.poller.health["m-e"].last_ok is None


def test_a_restart_keeps_what_was_learned_about_the_fleets_meters(tmp_path: Path):
    # The fleet's meters are known again only once its config is applied (from the
    # saved copy, at start): what the gateway learned about them must wait for it.
    port = tmp_path / "ttyUSB0"
    port.touch()
    pushed = DesiredConfig(
        config=GatewayConfig(
            gateway="gw-01",
            version=1,
            meters=[config(str(port), id="m-w", address=2, profile="water")],
        )
    )

    def start() -> MeterService:
        p = pipeline(tmp_path)
        return MeterService(
            "gw-01",
            [],  # nothing declared locally: every meter comes from the fleet
            RoutineSettings(),
            state_path=tmp_path / "routine.json",
            on_reading=p.add_reading,
            on_event=p.store_event,
        )

    first = start()
    first.apply_config(pushed)
    first.rules.water.flats["f-1"].first_use["2026-03-01"] = 7200.0  # a learned morning
    first.save()

    again = start()
    again.save()  # a save before the config is applied forgets nothing either
    again.apply_config(pushed)
    assert again.rules.water.flats["f-1"].first_use == {"2026-03-01": 7200.0}
    again.save()
    third = start()
    third.apply_config(pushed)
    assert third.rules.water.flats["f-1"].first_use == {"2026-03-01": 7200.0}
