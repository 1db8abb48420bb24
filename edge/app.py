"""The gateway's composition root: build everything from the settings and run it."""

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable

from contract import FieldValue, __version__
from contract.clock import parse_clock
from edge.ble.scanner import BackendFactory, Scanner, bluez_backend
from edge.commands import BandCommandQueue
from edge.config_push import ConfigApplier, DesiredConfig
from edge.decode.bthome import BTHomeDecoder
from edge.device_store import DeviceStore
from edge.health import RateMeter, SystemProbe
from edge.meters.service import MeterService
from edge.offline.alerter import OfflineAlerter
from edge.offline.modem import Modem, SmsModem
from edge.outbox import OUTBOX_FILE, Outbox
from edge.pipeline import Pipeline
from edge.rules import snapshot as rules_snapshot
from edge.rules.config import RulesConfig
from edge.rules.engine import MAX_TICK_GAP_S, RuleEngine
from edge.settings import GatewaySettings
from edge.status_file import (
    ConfigStatus,
    OutboxStatus,
    RadioStatus,
    SmsStatus,
    StatusFile,
    UplinkStatus,
    WatchdogStatus,
    write_status,
)
from edge.uplink.mqtt import Uplink
from edge.watchdog import Liveness, SystemdNotifier, keep_alive

log = logging.getLogger(__name__)

# Replay counters are saved often (the replay window after a crash is this long);
# the rest of the device state, which only feeds "last seen" after a restart, less so.
_SAVE_COUNTERS_S = 5.0
_SAVE_STATES_EVERY = 12  # x 5 s = one minute
# ... or sooner when the product clock runs fast: the rules' state (last movement,
# doses) is product time, and a restart must not bring back hours-old state.
_SAVE_STATES_PRODUCT_S = 300.0
_TICK_S = 1.0
# At most this many ticks a second of real time, however fast the clock runs.
_MIN_TICK_WALL_S = 0.05
# The tick loop runs every second; ten missed ticks mean the loop or a rule is stuck.
_TICK_STALE_S = 10.0


class Gateway:
    def __init__(
        self, settings: GatewaySettings, *, radio_backend: BackendFactory = bluez_backend
    ) -> None:
        self.settings = settings
        # Product time for everything the rules and the fleet read (contract/clock.py);
        # network waits (resends, backoff) and the status file stay on real time.
        self.clock = parse_clock(settings.clock)
        data = settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()  # real time: the status file's reader compares
        self.store = DeviceStore(data / "gateway.db")
        bound = settings.outbox
        self.outbox = Outbox(
            data / OUTBOX_FILE,
            max_bytes=int(bound.max_mb * 2**20),
            max_telemetry_age_s=bound.max_telemetry_age_h * 3600,
            max_file_bytes=int(bound.max_file_mb * 2**20) if bound.max_file_mb else None,
        )
        # Devices from the local settings; the fleet's pushed bands join them.
        self.static_sensors = {s.mac for s in settings.sensors}
        self.static_keys: dict[str, bytes | None] = {s.mac: s.key_bytes for s in settings.sensors}
        self.static_keys.update({band.mac: band.key_bytes for band in settings.bands})
        self.decoder = BTHomeDecoder(self.static_keys, self.store.load_counters())
        self.config = ConfigApplier(
            settings.gateway_id, settings.private_key.get_secret_value(), data
        )
        self.uplink = Uplink(
            settings.mqtt,
            settings.gateway_id,
            self.outbox,
            resend_after_s=settings.event_resend_s,
            heartbeat_s=settings.heartbeat_s,
            health=self.health,
            on_config=self.config.receive,
            config_report=self.config.report,
            clock=self.clock,
        )
        # A tick is due every second of product time, but at most every _MIN_TICK_WALL_S
        # of real time: when the clock runs fast, ticks are further apart in product
        # time, and must not read as a clock step.
        self.tick_s = max(_TICK_S, self.clock.speed * _MIN_TICK_WALL_S)
        self.rules = RuleEngine(
            settings.gateway_id,
            settings.rules_config(),
            max_tick_gap_s=max(MAX_TICK_GAP_S, 4 * self.tick_s),
        )
        saved_rules = rules_snapshot.load(data)
        if saved_rules is not None:
            self.rules.restore(saved_rules, self.clock.now())
        self.commands = BandCommandQueue()
        self.pipeline = Pipeline(
            settings.gateway_id,
            self.decoder,
            self.outbox,
            on_event=lambda _event: self.uplink.wake.set(),
            rules=self.rules,
            sensors=self.static_sensors,
            clock=self.clock.now,
        )
        self.pipeline.devices.update(self.store.load_states())
        self._saves = 0
        self._states_saved_at = self.clock.now()
        self.scanner = Scanner(
            settings.radio, settings.gateway_id, self.pipeline.on_advert, backend=radio_backend
        )
        self.meters = MeterService(
            settings.gateway_id,
            settings.meters,
            settings.routine,
            state_path=data / "routine.json",
            on_reading=self.pipeline.add_reading,
            on_event=self.pipeline.store_event,
            clock=self.clock.now,
            wall=self.clock.wall,
        )
        # The flat's meters are the inactivity rule's second witness.
        self.rules.set_usage(self.meters.recent_usage)
        self.system = SystemProbe(data)
        self.advert_rate = RateMeter(lambda: self.scanner.adverts_seen, time.monotonic)
        self._status_rate = RateMeter(lambda: self.scanner.adverts_seen, time.monotonic)
        self.notifier = SystemdNotifier()
        self.liveness = Liveness(time.monotonic)
        self.alerter = None
        self.config.register("bands", self._apply_bands)
        self.config.register("rules", self._apply_rules)
        self.config.register("meters", self.meters.apply_config)
        if settings.modem is not None:
            self.alerter = OfflineAlerter(
                settings.modem,
                self.outbox,
                SmsModem(Modem(settings.modem)),
                self.uplink.offline_for,
            )
            self.config.register("offline_sms", self.alerter.apply_config)
        # Sections of other parts (rules, meters) register here, before the last good
        # config is loaded, so that they start with it.
        self.config.load_persisted()

    # -- config sections -----------------------------------------------------------------

    def _apply_bands(self, desired: DesiredConfig) -> None:
        # Devices in the local settings win over pushed ones (a technician's override).
        self.decoder.set_keys({**desired.sensor_keys, **desired.band_keys, **self.static_keys})
        self.pipeline.sensors = self.static_sensors | set(desired.sensor_keys)

    def _apply_rules(self, desired: DesiredConfig) -> None:
        """Thresholds, residents' care plans and band -> resident/flat from the fleet,
        applied without a restart. Rules that were set aside leave the running ones."""
        config = desired.config
        if not desired.rules_valid:
            config = config.model_copy(update={"rules": self.rules.config.rules})
        self.rules.set_config(RulesConfig.from_gateway_config(config))

    # -- figures -------------------------------------------------------------------------

    def health(self) -> dict[str, FieldValue]:
        backlog = self.outbox.backlog()
        now = self.clock.now()
        figures: dict[str, FieldValue] = {
            "version": __version__,
            "adverts_seen": self.scanner.adverts_seen,
            "adverts_accepted": self.pipeline.accepted,
            "adverts_per_s": self.advert_rate.rate(),
            "devices_heard": len(self.pipeline.devices),
            "bands_configured": len(list(self.decoder.known())),
            "outbox_events": backlog["event"].count,
            "outbox_telemetry": backlog["telemetry"].count,
            "outbox_bytes": self.outbox.size_bytes(),
            "telemetry_thinned": self.outbox.thinned,
            "band_commands_pending": len(self.commands),
            "band_commands_ready": self.commands.delivered,
            "rules_clock_steps": self.rules.clock_steps,
            "config_version": self.config.version or 0,
        }
        oldest = backlog["event"].oldest_age_s(now)
        if oldest is not None:
            figures["outbox_oldest_event_s"] = round(oldest, 1)
        for reason, n in self.pipeline.rejects.items():
            figures[f"rejected_{reason}"] = n
        if self.alerter is not None:
            figures["sms_sent"] = self.alerter.counters.sent
            figures["sms_failed"] = self.alerter.counters.failed
        figures.update(self.meters.health())  # meters_configured, _online, _offline ...
        figures.update(self.system.figures())
        return figures

    def status(self) -> StatusFile:
        """What data_dir/status.json says (read by `silverguard gateway status`)."""
        s = self.settings
        up = self.uplink.state
        rejected = self.config.rejected
        sms = None
        if self.alerter is not None and s.modem is not None:
            c = self.alerter.counters
            sms = SmsStatus(
                port=s.modem.port,
                offline_after_s=s.modem.offline_after_s,
                sent=c.sent,
                failed=c.failed,
                events_notified=c.events_notified,
                events_without_contacts=c.events_without_contacts,
                last_error=c.last_error,
                last_sent_at=c.last_sent_at,
            )
        return StatusFile(
            gateway=s.gateway_id,
            version=__version__,
            pid=os.getpid(),
            started_at=self.started_at,
            written_at=time.time(),
            interval_s=s.status_interval_s,
            uplink=UplinkStatus(
                state=up.state,
                since=up.since,
                broker=f"{s.mqtt.host}:{s.mqtt.port}",
                tls=s.mqtt.tls,
                last_connected=up.last_connected,
                last_heartbeat=up.last_heartbeat,
                last_error=up.last_error,
                backoff_s=up.backoff_s,
                reconnects=up.reconnects,
                publish_refused=up.publish_refused,
                events_published=up.events_published,
                events_acked=up.acks_received,
                telemetry_published=up.telemetry_published,
                offline_for_s=round(self.uplink.offline_for(), 1),
            ),
            config=ConfigStatus(
                version=self.config.version,
                applied=self.config.applied,
                refused=self.config.refused,
                rejected_version=rejected.rejected_version if rejected else None,
                error=rejected.error if rejected else "",
                set_aside=list(self.config.set_aside),
            ),
            radio=RadioStatus(
                adverts_seen=self.scanner.adverts_seen,
                adverts_accepted=self.pipeline.accepted,
                adverts_per_s=self._status_rate.rate(),
                devices_heard=len(self.pipeline.devices),
                bands_configured=len(list(self.decoder.known())),
                rejects=dict(self.pipeline.rejects),
            ),
            outbox=OutboxStatus(
                bytes=self.outbox.size_bytes(),
                thinned_since_start=self.outbox.thinned,
                full_errors=self.outbox.full_errors,
                events_unstored=len(self.pipeline.unstored),
            ),
            events_stored=self.pipeline.events_stored,
            meters=self.meters.health(),
            watchdog=WatchdogStatus(
                systemd=self.notifier.watchdog_s is not None,
                healthy=not self.liveness.stale(),
                stale=self.liveness.stale(),
            ),
            sms=sms,
        )

    def _systemd_status(self) -> str:
        depth = self.outbox.depth()
        return (
            f"uplink {self.uplink.state.state}; outbox {depth['event']} events, "
            f"{depth['telemetry']} telemetry; config v{self.config.version or 0}"
        )

    # -- running -------------------------------------------------------------------------

    async def _every(
        self, seconds: float, action: Callable[[], object], beat: str = "", *, product: bool = False
    ) -> None:
        """Run ``action`` every ``seconds``: of real time, or of product time (``product``)."""
        wall = max(self.clock.wall(seconds), _MIN_TICK_WALL_S) if product else seconds
        if beat:
            self.liveness.expect(beat, max(_TICK_STALE_S, 3 * wall))
        while True:
            await asyncio.sleep(wall)
            try:
                action()
            except Exception:
                # One failed pass must not end the gateway; a stuck one stops the
                # watchdog's keep-alives and systemd restarts us.
                log.exception("periodic task %s failed", getattr(action, "__name__", action))
                continue
            if beat:
                self.liveness.beat(beat)

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a task that talks to hardware; if it fails, log it and start it again.

        A radio that BlueZ lost (adapter reset, bluetoothd restarted) must not take the
        outbox, the uplink and offline alerting down with it.
        """
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                await run()
                return
            except Exception:
                log.exception("%s failed; starting it again in %.0f s", name, delay)
            if time.monotonic() - started > 60:
                delay = 1.0  # it ran for a while: a new fault, not the same one again
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)

    def _write_status(self) -> None:
        write_status(self.settings.data_dir, self.status())

    async def run(self) -> None:
        log.info(
            "gateway %s starting: %d bands configured (%d local), config version %s, radio %s, "
            "broker %s:%d%s",
            self.settings.gateway_id,
            len(list(self.decoder.known())),
            len(self.static_keys),
            self.config.version,
            self.settings.radio.backend,
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            " over TLS" if self.settings.mqtt.tls else "",
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._supervise("radio", self.scanner.run))
                tasks.create_task(self.uplink.run())
                tasks.create_task(self._supervise("meters", self.meters.run))
                tasks.create_task(
                    self._every(self.settings.telemetry_interval_s, self._telemetry, product=True)
                )
                tasks.create_task(self._every(self.tick_s, self._tick, beat="tick", product=True))
                tasks.create_task(self._every(_SAVE_COUNTERS_S, self._save_state))
                tasks.create_task(
                    self._every(self.settings.status_interval_s, self._write_status, beat="status")
                )
                if self.alerter is not None:
                    tasks.create_task(self.alerter.run())
                self._write_status()
                self.notifier.notify("READY=1", f"STATUS={self._systemd_status()}")
                tasks.create_task(
                    keep_alive(
                        self.notifier,
                        self.liveness,
                        probe=self.outbox.probe,
                        status=self._systemd_status,
                    )
                )
        finally:
            self.notifier.notify("STOPPING=1")
            with contextlib.suppress(Exception):
                self._save_state(everything=True)
            with contextlib.suppress(Exception):
                self._write_status()
            self.store.close()
            self.outbox.close()

    def _save_state(self, *, everything: bool = False) -> None:
        self._saves += 1
        now = self.clock.now()
        with_states = (
            everything
            or self._saves % _SAVE_STATES_EVERY == 0
            or now - self._states_saved_at >= _SAVE_STATES_PRODUCT_S
        )
        if with_states:
            self._states_saved_at = now
        self.store.save(
            self.decoder.counters, self.pipeline.devices.values() if with_states else ()
        )
        if with_states:
            rules_snapshot.save(self.settings.data_dir, self.rules.snapshot(now))

    def _tick(self) -> None:
        self.pipeline.on_tick()
        now = self.clock.now()
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


def tune_gc() -> None:
    """Garbage-collector settings for a long-running gateway, applied after start-up.

    Each advert allocates a few dozen short-lived objects (bthome-ble builds value
    objects for every BTHome object), so at district load the young generation is
    collected hundreds of times a second. Freezing what start-up made (modules, tables,
    parsers) keeps those collections from walking it again, and a larger first
    threshold makes them rarer: about 7 % less CPU at 867 adverts/s
    (silverguard bench edge-radio), for a few hundred kB more garbage held at a time.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def run_gateway(
    settings: GatewaySettings, *, radio_backend: BackendFactory = bluez_backend
) -> None:
    """Run until SIGTERM/SIGINT; the outbox and counters are saved on the way out."""

    async def main() -> None:
        gateway = Gateway(settings, radio_backend=radio_backend)
        tune_gc()
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        with contextlib.suppress(asyncio.CancelledError):
            await gateway.run()

    asyncio.run(main())
