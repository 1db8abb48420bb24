"""The fleet's composition root: settings -> database, ingest, time series, notifier, API."""

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from contract import GatewayStatus, Health, __version__
from contract.clock import parse_clock
from contract.config import ConfigReport
from fleet import clock, console
from fleet.alerts.ack_link import LinkSigner
from fleet.alerts.activity import ActivityWatch
from fleet.alerts.coverage_alerts import CoverageAlerts
from fleet.alerts.escalator import Escalator
from fleet.alerts.service import Recorded
from fleet.api import access_log
from fleet.api.limits import BodyLimit, add_redacting_handlers
from fleet.api.routes import (
    ack_page,
    alert_stream,
    alerts,
    arrival,
    audit_log,
    battery,
    caregivers,
    charts,
    dead_letters,
    escalation,
    feedback,
    gateway_status,
    gateways,
    geography,
    meters,
    overview,
    resident_page,
    residents,
    risk,
    sla,
    task_page,
    tasks,
    users,
    wristbands,
)
from fleet.coverage import CoverageWatch
from fleet.db.session import make_engine, make_sessionmaker, migrate, warn_if_not_durable
from fleet.dispatch.task_link import TaskLinkSigner
from fleet.errors import FleetError, Unavailable
from fleet.ingest.consumer import Ingest
from fleet.ingest.dead_letters import DeadLetters
from fleet.ingest.gateway_state import LiveGateways
from fleet.ingest.source import Partition, SourceSelector
from fleet.ingest.telemetry_router import TelemetryRouter
from fleet.ingest.trust import CoverageCache, TimeWindow
from fleet.notify import sender
from fleet.notify.channel_policy import ChannelPolicy, guarded
from fleet.notify.dispatcher import Dispatcher
from fleet.provisioning import identity
from fleet.provisioning.dynsec import Dynsec
from fleet.provisioning.publisher import ConfigPublisher
from fleet.redaction import redact
from fleet.registry import band_import, bands, config_push
from fleet.registry.vault import Vault
from fleet.risk.scheduler import RiskDaily
from fleet.settings import FleetSettings
from fleet.sign_in_throttle import SignInThrottle
from fleet.supervisor import Supervisor
from fleet.timeseries.battery_cache import BatteryCache
from fleet.timeseries.influx import InfluxWriter, health_lines
from fleet.timeseries.spill import Spill

log = logging.getLogger(__name__)


class Fleet:
    """Everything one fleet process runs, built from its settings."""

    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings
        clock.install(parse_clock(settings.clock), ZoneInfo(settings.timezone))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Its files hold personal data (registry, telemetry spill) and the secret key.
        try:
            settings.data_dir.chmod(0o700)
        except OSError as exc:
            log.warning("could not make %s private (mode 0700): %s", settings.data_dir, exc)
        url = settings.resolved_database_url
        migrate(url)
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        warn_if_not_durable(self.engine)
        self.instance = f"fleet-{secrets.token_hex(3)}"
        self.vault = (
            Vault.from_setting(settings.secret_key.get_secret_value())
            if settings.secret_key.get_secret_value()
            else Vault.from_file(settings.resolved_secret_key_file)
        )
        bands.seal_legacy_keys(self.sessions, self.vault)
        self.influx = InfluxWriter(
            settings.influx,
            spill=Spill(
                settings.data_dir / "influx-spill.db",
                max_bytes=int(settings.influx.spill_max_mb * 1024 * 1024),
            ),
        )
        self.battery = BatteryCache(self.influx, timedelta(seconds=settings.battery_cache_s))
        self.links = LinkSigner(
            self.vault.derive_key("ack-link"), timedelta(hours=settings.ack_link_ttl_h)
        )
        self.task_links = TaskLinkSigner(
            self.vault.derive_key("task-link"), timedelta(hours=settings.ack_link_ttl_h)
        )
        self.channel_policy = ChannelPolicy.from_settings(
            settings.channel_schemes, settings.channel_allow_hosts
        )
        self.dispatcher = Dispatcher(
            self.sessions,
            instance=self.instance,
            public_url=settings.resolved_public_url,
            links=self.links,
            task_links=self.task_links,
            attempts=settings.notify_attempts,
            retry_s=settings.notify_retry_s,
            # Checked again before each send: a name may resolve elsewhere by now.
            send=guarded(
                sender.send, self.channel_policy, lambda why: sender.SendResult(False, why)
            ),
        )
        self.escalator = Escalator(
            self.sessions,
            instance=self.instance,
            on_deliveries=self.dispatcher.wake.set,
            poll_s=settings.escalation_poll_s,
            digest_time=settings.digest_time,
        )
        self.activity = ActivityWatch(self.sessions, instance=self.instance)
        self.coverage = CoverageWatch(
            after_s=settings.gateway_offline_alert_s, instance=self.instance
        )
        self.coverage_alerts = CoverageAlerts(
            self.coverage, self.sessions, instance=self.instance, on_alert=self._on_alert
        )
        self.telemetry = TelemetryRouter(
            partition=Partition.parse(settings.mqtt.telemetry_partition),
            sources=SourceSelector(max_future_s=settings.ingest.max_future_s),
            writer=self.influx,
            on_band_readings=self.activity.on_readings,
            clock=clock.now,
        )
        limits = settings.ingest
        self.window = TimeWindow(
            max_future_s=limits.max_future_s,
            event_max_age_s=limits.event_max_age_h * 3600,
            telemetry_max_age_s=limits.telemetry_max_age_h * 3600,
        )
        self.coverage_cache = CoverageCache(self.sessions, ttl_s=limits.coverage_ttl_s)
        self.mqtt_client_id = identity.mqtt_client_id(self.vault, settings.mqtt.client_id)
        self.ingest = Ingest(
            settings.mqtt,
            self.sessions,
            client_id=self.mqtt_client_id,
            on_alert=self._on_alert,
            on_telemetry=self.telemetry,
            coverage=self.coverage_cache,
            dead_letters=DeadLetters(
                self.sessions, budget_per_minute=limits.dead_letter_budget_per_minute
            ),
            window=self.window,
            id_tolerance_s=limits.event_id_tolerance_s,
            on_gateway=self._on_gateway,
            on_config_report=self._on_config_report,
            telemetry_shared=self.telemetry.partition.count == 1,
            instance=self.instance,
            clock=clock.now,  # product time: timestamps are judged against it
        )
        self.live_gateways = LiveGateways()
        prov = settings.provisioning
        self.dynsec = Dynsec(
            settings.mqtt.host,
            settings.mqtt.port,
            prov.dynsec_username,
            prov.dynsec_password.get_secret_value(),
            ca_file=settings.mqtt.ca_file,
            timeout=prov.broker_timeout_s,
        )
        self.publisher = ConfigPublisher(
            self.sessions,
            self.vault,
            lambda topic, payload, retain: self.ingest.publish(topic, payload, retain=retain),
            self.dynsec,
            # Every registry change that moves bands, residents or gateways pokes the
            # publisher: the coverage telemetry is judged by is stale from then on.
            on_poke=self.coverage_cache.invalidate,
        )
        self.supervisor = Supervisor()
        self.risk_daily = RiskDaily(self.sessions, series=self.influx)
        self._running = False
        self.sign_in_throttle = SignInThrottle(
            window=timedelta(seconds=settings.sign_in_window_s),
            per_account=settings.sign_in_failures_per_account,
            per_address=settings.sign_in_failures_per_address,
        )

    async def pin_identity(self) -> None:
        """Tie the fleet's broker account to its client id (fleet.provisioning.identity)."""
        if self.dynsec.configured and self.settings.mqtt.username:
            await identity.pin(
                self.dynsec,
                self.settings.mqtt.username,
                self.mqtt_client_id,
                timeout_s=self.settings.provisioning.broker_timeout_s,
            )

    async def _on_config_report(self, report: ConfigReport) -> None:
        await asyncio.to_thread(config_push.store_report, self.sessions, report)

    def _on_alert(self, recorded: Recorded) -> None:
        self.dispatcher.wake.set()

    def _on_gateway(self, gateway_id: str, message: GatewayStatus | Health) -> None:
        if isinstance(message, GatewayStatus):
            self.live_gateways.on_status(message)
            self.coverage.on_status(message, clock.now())
        else:
            self.live_gateways.on_health(message)
            self.influx.add(health_lines(message))

    def health(self) -> dict[str, Any]:
        database = "ok"
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means the same thing here
            database = f"unavailable: {type(exc).__name__}"
        parts = {
            "database": database,
            "broker": "ok" if self.ingest.connected.is_set() else "unreachable (retrying)",
            "influxdb": "ok" if self.influx.reachable else "unreachable (retrying)",
        }
        stalled = self.supervisor.degraded()
        degraded = [name for name, state in parts.items() if state != "ok"] + stalled
        dead = self.ingest.dead_letters
        return {
            "status": "degraded" if degraded else "ok",
            "version": __version__,
            "instance": self.instance,
            **parts,
            "tasks": self.supervisor.health(),
            "influx_pending_lines": self.influx.pending,
            "influx_spill": {
                "lines": self.influx.spilled,
                "dropped": self.influx.spill_dropped,
            },
            "ingest": dict(self.ingest.counts),
            "refused": self.ingest.refusals.by_gateway(),
            "dead_letters": {
                "parked": dead.parked,
                "over_budget": dead.over_budget,
                "park_failed": dead.failed,
            },
            "coverage": {
                "loads": self.coverage_cache.loads,
                "load_failures": self.coverage_cache.load_failures,
            },
            "telemetry": self.telemetry.health(),
            "notifications": {
                "sent": self.dispatcher.sent,
                "failed": self.dispatcher.failed,
                "cancelled": self.dispatcher.cancelled,
            },
            "escalation": {
                "steps_fired": self.escalator.fired,
                "errors": self.escalator.errors,
                "activity_resumed": self.activity.resumed,
            },
            "provisioning": {
                "dynsec": "configured" if self.dynsec.configured else "not configured",
                "configs_published": self.publisher.published,
                "publish_failures": self.publisher.failures,
            },
        }

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # Background tasks do their database work in worker threads (asyncio.to_thread).
        # Cancelling a task does not stop its thread, so at shutdown the threads are
        # waited for before the engine is disposed: a connection still checked out
        # would otherwise outlive its pool and be dropped unclosed.
        if self._running:
            # The app's lifespan entered again (a test client around a running app, in
            # another event loop): the tasks run once, in the first.
            yield
            return
        self._running = True
        loop = asyncio.get_running_loop()
        workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fleet-db")
        loop.set_default_executor(workers)
        log.info("fleet %s: MQTT client id %s", self.instance, self.mqtt_client_id)
        supervisor = self.supervisor
        pinning = asyncio.create_task(self.pin_identity(), name="pin-identity")
        for name, factory in (
            ("ingest", self.ingest.run),
            ("influx", self.influx.run),
            ("dispatcher", self.dispatcher.run),
            ("escalator", self.escalator.run),
            ("activity-watch", self.activity.run),
            ("config-publisher", self.publisher.run),
            ("coverage-watch", self.coverage_alerts.run),
            ("risk-daily", self.risk_daily.run),
        ):
            supervisor.start(name, factory)
        try:
            yield
        finally:
            pinning.cancel()
            await supervisor.stop()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):  # not wait_for: see contract/transport.py
                    await self.influx.flush()
            await self.influx.aclose()
            workers.shutdown(wait=True)
            self.engine.dispose()
            self._running = False


def create_app(settings: FleetSettings) -> FastAPI:
    fleet = Fleet(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with fleet.running():
            yield

    app = FastAPI(
        title="Silverguard fleet",
        version=__version__,
        description="Registry, alerts and provisioning for Silverguard gateways and wristbands.",
        lifespan=lifespan,
    )
    # The parts a route may ask for (fleet.api.deps), each by itself; tests reach the
    # whole fleet through app.state.fleet.
    app.state.fleet = fleet
    for name in (
        "sessions",
        "settings",
        "publisher",
        "vault",
        "links",
        "task_links",
        "influx",
        "battery",
        "dynsec",
        "live_gateways",
        "sign_in_throttle",
        "channel_policy",
    ):
        setattr(app.state, name, getattr(fleet, name))
    for module in (
        users,
        geography,
        resident_page,
        charts,
        residents,
        caregivers,
        wristbands,
        gateways,
        meters,
        alert_stream,
        alerts,
        escalation,
        sla,
        audit_log,
        ack_page,
        tasks,
        task_page,
        arrival,
        feedback,
        risk,
        overview,
        battery,
        gateway_status,
        dead_letters,
    ):
        app.include_router(module.router)
    _add_error_handlers(app)
    add_redacting_handlers(app)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        # The CSV of a district's wristbands; the route enforces this limit itself too.
        per_path={"/api/v1/wristbands/import": band_import.MAX_BYTES + 64 * 1024},
    )
    console.mount(app)

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, Any]:
        return fleet.health()

    return app


def _add_error_handlers(app: FastAPI) -> None:
    """The one place errors become HTTP answers: the fleet's own (fleet/errors.py) carry
    their status; database refusals become 409/422/503, not 500."""

    @app.exception_handler(FleetError)
    async def _fleet_error(request: Request, exc: FleetError) -> JSONResponse:
        if exc.status >= 500:
            # Ours, not the caller's: say so without details, keep them in the log.
            log.error("%s %s failed: %s", request.method, request.url.path, redact(exc.message))
            detail = "the fleet could not do this; the fault is logged"
            if isinstance(exc, Unavailable):
                detail = redact(exc.message)
            return JSONResponse({"detail": detail}, status_code=exc.status, headers=exc.headers)
        return JSONResponse(
            {"detail": redact(exc.message)}, status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same id, or a reference vanished meanwhile.
        return JSONResponse(
            {"detail": "the change conflicts with the registry as it is now; reload and retry"},
            status_code=status.HTTP_409_CONFLICT,
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(
            {"detail": "a value was refused by the database (too long or out of range)"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"detail": "the registry database is unavailable; try again shortly"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )


class ListenError(RuntimeError):
    """The API's address cannot be listened on."""


def _listen(host: str, port: int) -> socket.socket:
    """Bind the API's socket before anything starts, so a taken port is a clear error at
    once rather than a half-started service (uvicorn binds only after the lifespan
    has started the consumers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(settings: FleetSettings) -> None:
    sock = _listen(settings.host, settings.port)
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level.lower()
    )
    access_log.install()  # after uvicorn has configured its loggers
    uvicorn.Server(config).run(sockets=[sock])
