"""The gateway's composition root: build everything from the settings and run it."""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

from edge.ble.scanner import Scanner
from edge.commands import BandCommandQueue
from edge.decode.bthome import BTHomeDecoder
from edge.device_store import DeviceStore
from edge.meters.service import MeterService
from edge.outbox import Outbox
from edge.pipeline import Pipeline
from edge.rules.engine import RuleEngine
from edge.settings import GatewaySettings
from edge.uplink.mqtt import Uplink
from silverguard.wire import FieldValue

log = logging.getLogger(__name__)

# Replay counters are saved often (the replay window after a crash is this long);
# the rest of the device state, which only feeds "last seen" after a restart, less so.
_SAVE_COUNTERS_S = 5.0
_SAVE_STATES_EVERY = 12  # x 5 s = one minute


class Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        data = settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.store = DeviceStore(data / "gateway.db")
        self.outbox = Outbox(data / "outbox.db")
        keys: dict[str, bytes | None] = {s.mac: s.key_bytes for s in settings.sensors}
        keys.update({band.mac: band.key_bytes for band in settings.bands})
        self.decoder = BTHomeDecoder(keys, self.store.load_counters())
        self.uplink = Uplink(
            settings.mqtt,
            settings.gateway_id,
            self.outbox,
            resend_after_s=settings.event_resend_s,
            health=self.health,
        )
        self.rules = RuleEngine(settings.gateway_id, settings.rules_config())
        self.commands = BandCommandQueue()
        self.pipeline = Pipeline(
            settings.gateway_id,
            self.decoder,
            self.outbox,
            on_event=lambda _event: self.uplink.wake.set(),
            rules=self.rules,
            sensors={s.mac for s in settings.sensors},
        )
        self.pipeline.devices.update(self.store.load_states())
        self._saves = 0
        self.scanner = Scanner(settings.radio, settings.gateway_id, self.pipeline.on_advert)
        self.meters = MeterService(
            settings.gateway_id,
            settings.meters,
            settings.routine,
            state_path=data / "routine.json",
            on_reading=self.pipeline.add_reading,
            on_event=self.pipeline.store_event,
        )
        # The flat's meters are the inactivity rule's second witness.
        self.rules.set_usage(self.meters.recent_usage)

    def health(self) -> dict[str, FieldValue]:
        depth = self.outbox.depth()
        figures: dict[str, FieldValue] = {
            "adverts_seen": self.scanner.adverts_seen,
            "adverts_accepted": self.pipeline.accepted,
            "devices_heard": len(self.pipeline.devices),
            "outbox_events": depth["event"],
            "outbox_telemetry": depth["telemetry"],
            "telemetry_thinned": self.outbox.thinned,
            "band_commands_pending": len(self.commands),
            "band_commands_ready": self.commands.delivered,
            "rules_clock_steps": self.rules.clock_steps,
        }
        for reason, n in self.pipeline.rejects.items():
            figures[f"rejected_{reason}"] = n
        figures.update(self.meters.health())
        return figures

    async def _every(self, seconds: float, action: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(seconds)
            action()

    async def run(self) -> None:
        log.info(
            "gateway %s starting: %d bands configured, radio %s",
            self.settings.gateway_id,
            len(self.settings.bands),
            self.settings.radio.backend,
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.scanner.run())
                tasks.create_task(self.uplink.run())
                tasks.create_task(self.meters.run())
                tasks.create_task(self._every(self.settings.telemetry_interval_s, self._telemetry))
                tasks.create_task(self._every(1.0, self._tick))
                tasks.create_task(self._every(_SAVE_COUNTERS_S, self._save_state))
        finally:
            self._save_state(everything=True)
            self.store.close()
            self.outbox.close()

    def _save_state(self, *, everything: bool = False) -> None:
        self._saves += 1
        with_states = everything or self._saves % _SAVE_STATES_EVERY == 0
        self.store.save(
            self.decoder.counters, self.pipeline.devices.values() if with_states else ()
        )

    def _tick(self) -> None:
        self.pipeline.on_tick()
        now = time.time()
        self.commands.put(self.rules.take_commands(), now)
        for command in self.commands.take_ready(self._last_heard, now):
            # The GATT write to the band is not implemented yet; the command is logged.
            log.info("band command %s %s for %s ready", command.kind, command.key, command.device)

    def _last_heard(self, device: str) -> float | None:
        state = self.pipeline.devices.get(device)
        return state.last_seen if state is not None else None

    def _telemetry(self) -> None:
        if self.pipeline.flush_telemetry():
            self.uplink.wake.set()


def run_gateway(settings: GatewaySettings) -> None:
    """Run until SIGTERM/SIGINT; the outbox and counters are saved on the way out."""

    async def main() -> None:
        gateway = Gateway(settings)
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        with contextlib.suppress(asyncio.CancelledError):
            await gateway.run()

    asyncio.run(main())
