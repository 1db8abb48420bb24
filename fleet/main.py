"""The fleet's composition root: settings -> database, ingest, time series, notifier, API."""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from fleet.alerts.service import Recorded
from fleet.api.routes import alerts, registry
from fleet.db.session import make_engine, make_sessionmaker, migrate
from fleet.ingest.consumer import Ingest
from fleet.ingest.source import Partition, SourceSelector
from fleet.notify.dispatcher import Dispatcher
from fleet.settings import FleetSettings
from fleet.timeseries.influx import InfluxWriter, health_lines, telemetry_lines
from silverguard import __version__
from silverguard.wire import GatewayStatus, Health, TelemetryBatch

log = logging.getLogger(__name__)


class Fleet:
    """Everything one fleet process runs, built from its settings."""

    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        migrate(url)
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        self.instance = f"fleet-{secrets.token_hex(3)}"
        self.influx = InfluxWriter(settings.influx)
        self.dispatcher = Dispatcher(
            self.sessions,
            instance=self.instance,
            public_url=settings.resolved_public_url,
            attempts=settings.notify_attempts,
            retry_s=settings.notify_retry_s,
        )
        self.partition = Partition.parse(settings.mqtt.telemetry_partition)
        self.sources = SourceSelector()
        self.telemetry_counts = {"kept": 0, "other_source": 0, "other_partition": 0}
        self.ingest = Ingest(
            settings.mqtt,
            self.sessions,
            on_alert=self._on_alert,
            on_telemetry=self._on_telemetry,
            on_gateway=self._on_gateway,
            telemetry_shared=self.partition.count == 1,
        )
        self.gateways: dict[str, dict[str, Any]] = {}

    def _on_alert(self, recorded: Recorded) -> None:
        self.dispatcher.wake.set()

    def _on_telemetry(self, batch: TelemetryBatch) -> None:
        """Keep each device's reading from the gateway that hears it best, once."""
        kept = []
        counts = self.telemetry_counts
        for reading in batch.readings:
            if not self.partition.owns(reading.device):
                counts["other_partition"] += 1
            elif reading.rssi is None or self.sources.accept(
                reading.device, batch.gateway, reading.rssi, reading.ts
            ):
                kept.append(reading)
            else:
                counts["other_source"] += 1
        counts["kept"] += len(kept)
        if kept:
            self.influx.add(telemetry_lines(batch.gateway, kept))

    def _on_gateway(self, gateway_id: str, message: GatewayStatus | Health) -> None:
        entry = self.gateways.setdefault(gateway_id, {})
        if isinstance(message, GatewayStatus):
            entry.update(state=message.state, status_ts=message.ts, version=message.version)
        else:
            entry.update(health_ts=message.ts, uptime_s=message.uptime_s, figures=message.figures)
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
        degraded = [name for name, state in parts.items() if state != "ok"]
        return {
            "status": "degraded" if degraded else "ok",
            "version": __version__,
            "instance": self.instance,
            **parts,
            "influx_pending_lines": self.influx.pending,
            "ingest": dict(self.ingest.counts),
            "telemetry": {**self.telemetry_counts, "handovers": self.sources.handovers},
            "notifications": {"sent": self.dispatcher.sent, "failed": self.dispatcher.failed},
        }

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(self.ingest.run(), name="ingest"),
            asyncio.create_task(self.influx.run(), name="influx"),
            asyncio.create_task(self.dispatcher.run(), name="dispatcher"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.influx.flush(), timeout=5)
            await self.influx.aclose()
            self.engine.dispose()


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
    app.state.fleet = fleet
    app.state.sessions = fleet.sessions
    app.include_router(alerts.router)
    app.include_router(registry.router)

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, Any]:
        return fleet.health()

    return app


def serve(settings: FleetSettings) -> None:
    import uvicorn

    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
