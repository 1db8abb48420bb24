"""The whole product on one machine, on real servers: Mosquitto, InfluxDB, the fleet
service and gateways as separate processes, simulated wristbands on a simulated air.

Used by ``silverguard demo``, the end-to-end tests and the benchmarks. Every server
gets a free port and a directory under ``workdir``.
"""

import asyncio
import contextlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt
import httpx

from contract import Topic, TopicKind
from contract.sealing import generate_keypair
from edge.enroll import enroll
from edge.status import read_gateway_status
from firmware_mocks.air import Air, RadioModel
from firmware_mocks.population import Population
from fleet.auth import Role, issue_token
from fleet.db.session import make_engine, make_sessionmaker, migrate
from fleet.settings import FleetSettings
from silverguard.config import load_settings
from silverguard.servers.influxdb import InfluxServer
from silverguard.servers.mosquitto import Credentials, MosquittoServer
from silverguard.servers.process import PORT_ATTEMPTS, ChildProcess, ServerError, free_port
from silverguard.sim import place
from silverguard.sim.desired_config import desired_config
from silverguard.sim.settings_files import merged, write_enrollment, write_toml

if TYPE_CHECKING:
    from contract.config import GatewayConfig
    from edge.status import GatewayStatusReport


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    gateway_id: str
    position: tuple[float, float]


def _silverguard_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "silverguard.cli", *args]


class Stack:
    def __init__(
        self,
        workdir: Path,
        gateways: list[GatewaySpec],
        *,
        radio: RadioModel | None = None,
        telemetry_interval_s: float = 2.0,
        event_resend_s: float = 5.0,
        fleet_settings: dict[str, Any] | None = None,
        backoff_max_s: float = 5.0,
        bands_in_settings: bool = True,
    ) -> None:
        self.workdir = Path(workdir)
        # Extra fleet settings (e.g. a PostgreSQL database_url and a shared secret_key
        # for several instances, or short notification retries for a test).
        self.fleet_settings = fleet_settings or {}
        self.extra_fleets: dict[str, ChildProcess] = {}
        self.specs = {spec.gateway_id: spec for spec in gateways}
        self.telemetry_interval_s = telemetry_interval_s
        self.event_resend_s = event_resend_s
        self.backoff_max_s = backoff_max_s
        # False: gateways learn their bands only from a pushed config (publish_config).
        self.bands_in_settings = bands_in_settings
        # Gateways reach the broker over TLS, verifying it with the fleet's CA; the fleet
        # on the same host uses the loopback listener.
        self.mosquitto = MosquittoServer(self.workdir / "mosquitto", tls=True)
        self.influx = InfluxServer(self.workdir / "influxdb")
        self.air = Air(radio)
        self.fleet_port = free_port()
        self.fleet_dir = self.workdir / "fleet"
        self.fleet_process: ChildProcess | None = None
        self.gateway_processes: dict[str, ChildProcess] = {}
        self.gateway_credentials: dict[str, Credentials] = {}
        self.fleet_credentials: Credentials | None = None
        self.extra_fleet_credentials: dict[str, Credentials] = {}
        self.admin_token = ""
        self.api: httpx.AsyncClient | None = None
        self.band_keys: dict[str, bytes] = {}
        self.gateway_keys: dict[str, tuple[str, str]] = {}  # id -> (private, public)
        self.gateway_extra: dict[str, dict[str, Any]] = {}  # id -> extra settings
        self.enrolled: set[str] = set()  # gateways enrolled through the fleet's API

    @property
    def fleet_url(self) -> str:
        return f"http://127.0.0.1:{self.fleet_port}"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything; if any part fails, stop what already runs, then raise."""
        try:
            await self._start()
        except BaseException:
            with contextlib.suppress(Exception):
                await self.stop()
            raise

    async def _start(self) -> None:
        await asyncio.to_thread(self.mosquitto.start)
        await asyncio.to_thread(self.influx.start)
        self.fleet_credentials = await asyncio.to_thread(self.mosquitto.add_fleet)

        for gateway_id in self.specs:
            self.gateway_credentials[gateway_id] = await asyncio.to_thread(
                self.mosquitto.add_gateway, gateway_id
            )
            self.gateway_keys[gateway_id] = generate_keypair()
        await self.air.start()
        self._write_fleet_config()
        self.admin_token = await asyncio.to_thread(self._issue_admin_token)
        self.api = httpx.AsyncClient(
            base_url=self.fleet_url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=30,
        )
        await self.start_fleet()

    async def stop(self) -> None:
        for gateway_id in list(self.gateway_processes):
            await asyncio.to_thread(self.stop_gateway, gateway_id)
        for process in self.extra_fleets.values():
            await asyncio.to_thread(process.stop)
        if self.fleet_process is not None:
            await asyncio.to_thread(self.fleet_process.stop)
        if self.api is not None:
            await self.api.aclose()
        await self.air.close()
        await asyncio.to_thread(self.influx.stop)
        await asyncio.to_thread(self.mosquitto.stop)

    async def __aenter__(self) -> "Stack":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- fleet ---------------------------------------------------------------------------

    def _write_fleet_config(
        self, name: str = "fleet", port: int | None = None, creds: Credentials | None = None
    ) -> Path:
        """Each fleet instance has a broker account of its own, pinned to its client id."""
        creds = creds or self.fleet_credentials
        assert creds is not None
        assert self.mosquitto.tls_files is not None
        data_dir = self.fleet_dir if name == "fleet" else self.fleet_dir / name
        values: dict[str, Any] = {
            "data_dir": str(data_dir),
            "host": "127.0.0.1",
            "port": port or self.fleet_port,
            "log_level": "INFO",
            "notify_retry_s": 1.0,
            # The simulated caregivers' phones (silverguard.sim.receiver) listen on the
            # loopback, which the channel policy refuses unless it is allowed. A test of
            # the policy itself sets its own list through fleet_settings.
            "channel_allow_hosts": ["127.0.0.1"],
            "mqtt": {
                "host": self.mosquitto.host,
                "port": self.mosquitto.port,
                "username": creds.username,
                "password": creds.password,
                "client_id": creds.client_id,
            },
            "influx": {
                "url": self.influx.url,
                "database": "silverguard",
                "flush_interval_s": 0.2,
            },
            # The fleet creates enrolled gateways' broker clients itself, and hands
            # them the broker's TLS listener and CA.
            "provisioning": {
                "dynsec_username": self.mosquitto.admin.username,
                "dynsec_password": self.mosquitto.admin.password,
                "broker_host": self.mosquitto.host,
                "broker_port": self.mosquitto.tls_port,
                "ca_file": str(self.mosquitto.tls_files.ca_file),
            },
        }
        path = data_dir / "fleet.toml"
        write_toml(path, merged(values, self.fleet_settings))
        return path

    def _issue_admin_token(self) -> str:

        settings = load_settings(FleetSettings, self.fleet_dir / "fleet.toml")
        migrate(settings.resolved_database_url)
        engine = make_engine(settings.resolved_database_url)
        with make_sessionmaker(engine).begin() as session:
            token = issue_token(session, subject="sim-admin", role=Role.ADMIN)
        engine.dispose()
        return token

    async def start_fleet(self, timeout: float = 60.0) -> None:
        for attempt in range(PORT_ATTEMPTS):
            self.fleet_process = ChildProcess(
                "fleet",
                _silverguard_argv("fleet", "serve", "--config", str(self.fleet_dir / "fleet.toml")),
                self.fleet_dir / "fleet.log",
            )
            clashes = self.fleet_process.log_count("cannot listen on")
            self.fleet_process.start()
            try:
                await self.wait_fleet_healthy(timeout)
                return
            except RuntimeError:
                clashed = self.fleet_process.log_count("cannot listen on") > clashes
                if not clashed or attempt == PORT_ATTEMPTS - 1:
                    raise
            # The port was taken after we chose it, or (a restart) while the fleet was
            # down: choose again. Links already sent name the old port; a restart that
            # could not bind at all would fail the run anyway.
            self.fleet_port = free_port()
            self._write_fleet_config()
            assert self.api is not None
            self.api.base_url = httpx.URL(self.fleet_url)

    async def wait_fleet_healthy(self, timeout: float = 60.0) -> dict[str, Any]:
        assert self.api is not None
        assert self.fleet_process is not None
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if not self.fleet_process.running:
                raise ServerError(f"fleet exited:\n{self.fleet_process.log_tail()}")
            try:
                response = await self.api.get("/health")
                last = response.json()
                if last.get("broker") == "ok":
                    return dict(last)
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        raise TimeoutError(
            f"fleet not healthy after {timeout}s: {last}\n{self.fleet_process.log_tail()}"
        )

    async def stop_fleet(self) -> None:
        if self.fleet_process is not None:
            await asyncio.to_thread(self.fleet_process.stop)

    async def start_extra_fleet(self, name: str, timeout: float = 60.0) -> str:
        """Another fleet instance on the same database and broker (the database must be
        one both can reach, i.e. ``fleet_settings`` names a PostgreSQL ``database_url``
        and a shared ``secret_key``); return its base URL."""
        port = free_port()
        creds = self.extra_fleet_credentials.get(name)
        if creds is None:
            creds = self.extra_fleet_credentials[name] = await asyncio.to_thread(
                self.mosquitto.add_fleet, f"fleet-{name}"
            )
        config = self._write_fleet_config(name, port, creds)
        process = ChildProcess(
            name,
            _silverguard_argv("fleet", "serve", "--config", str(config)),
            config.parent / "fleet.log",
        )
        process.start()
        self.extra_fleets[name] = process
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            while time.monotonic() < deadline:
                if not process.running:
                    raise ServerError(f"{name} exited:\n{process.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health")).json().get("broker") == "ok":
                        return url
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{name} not healthy after {timeout}s:\n{process.log_tail()}")

    # -- gateways ------------------------------------------------------------------------

    def gateway_dir(self, gateway_id: str) -> Path:
        return self.workdir / "gateways" / gateway_id

    def write_enrollment(self, gateway_id: str) -> Path:
        """What `silverguard gateway enroll` leaves in the data directory (mode 0600)."""
        assert self.mosquitto.tls_port is not None
        assert self.mosquitto.tls_files is not None
        data = self.gateway_dir(gateway_id) / "data"
        path = write_enrollment(
            data,
            gateway_id,
            # The broker's certificate names 127.0.0.1 (and localhost).
            host=self.mosquitto.host,
            port=self.mosquitto.tls_port,
            creds=self.gateway_credentials[gateway_id],
            keys=self.gateway_keys[gateway_id],
        )
        shutil.copyfile(self.mosquitto.tls_files.ca_file, data / "ca.crt")
        return path

    def write_gateway_config(self, gateway_id: str, **extra: Any) -> Path:
        spec = self.specs[gateway_id]
        path = self.gateway_dir(gateway_id) / "gateway.toml"
        if gateway_id not in self.enrolled:
            self.write_enrollment(gateway_id)  # as `gateway enroll` would have
        extra = {**self.gateway_extra.get(gateway_id, {}), **extra}
        mqtt = {"backoff_min_s": 0.5, "backoff_max_s": self.backoff_max_s, **extra.pop("mqtt", {})}
        values: dict[str, Any] = {
            "data_dir": str(self.gateway_dir(gateway_id) / "data"),
            "telemetry_interval_s": self.telemetry_interval_s,
            "event_resend_s": self.event_resend_s,
            "heartbeat_s": 5.0,
            "status_interval_s": 1.0,
            **extra,
            "mqtt": mqtt,
            "radio": {
                "backend": "simulated",
                "air": self.air.address,
                "position": list(spec.position),
            },
        }
        if self.bands_in_settings:
            values["bands"] = [
                {"mac": mac, "key": key.hex()} for mac, key in self.band_keys.items()
            ]
        write_toml(path, values)
        return path

    async def enroll_gateway(self, gateway_id: str, communities: list[str] | None = None) -> Any:
        """Create the gateway in the fleet and enroll it as a site engineer would.

        The gateway's data dir then holds enrollment.json, config.json (and ca.crt with
        TLS); its fleet-made MQTT credentials replace the ones the Stack made, so
        ``start_gateway`` runs it with them.
        """
        assert self.api is not None

        covers = communities or [self.community_id]
        created = await self.api.post(
            "/api/v1/gateways", json={"id": gateway_id, "communities": covers}
        )
        if created.status_code == 409:  # registered by ensure_place: a token for it
            await self.api.patch(f"/api/v1/gateways/{gateway_id}", json={"communities": covers})
            created = await self.api.post(
                f"/api/v1/gateways/{gateway_id}/enrollment-token", json={}
            )
        if created.status_code not in (200, 201):
            raise RuntimeError(
                f"creating gateway {gateway_id}: {created.status_code} {created.text}"
            )
        data_dir = self.gateway_dir(gateway_id) / "data"
        result = await asyncio.to_thread(
            enroll, self.fleet_url, created.json()["enrollment_token"], data_dir, force=True
        )
        identity = json.loads((data_dir / "enrollment.json").read_text())
        self.gateway_credentials[gateway_id] = Credentials(
            identity["mqtt"]["username"], identity["mqtt"]["password"], gateway_id
        )
        self.gateway_keys[gateway_id] = (identity["private_key"], identity["public_key"])
        self.enrolled.add(gateway_id)
        return result

    async def start_gateway(self, gateway_id: str, **extra: Any) -> None:
        """Start a gateway process; ``extra`` settings (e.g. ``meters=[...]``,
        ``rules={...}``) go into its config file."""
        config = self.write_gateway_config(gateway_id, **extra)
        process = ChildProcess(
            f"gateway {gateway_id}",
            _silverguard_argv("gateway", "run", "--config", str(config)),
            self.gateway_dir(gateway_id) / "gateway.log",
            env={
                "PYTHONUNBUFFERED": "1",
                **(
                    {"COVERAGE_PROCESS_START": os.environ["COVERAGE_PROCESS_START"]}
                    if "COVERAGE_PROCESS_START" in os.environ
                    else {}
                ),
            },
        )
        process.start()
        self.gateway_processes[gateway_id] = process
        await self._on_air(gateway_id, process, timeout=60.0)

    async def _on_air(self, gateway_id: str, process: ChildProcess, timeout: float) -> None:
        """Wait until the gateway listens on the simulated air; say why if it does not."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.air.wait_for_gateways({gateway_id}, timeout=0.5)
                return
            except TimeoutError:
                if not process.running:
                    raise ServerError(
                        f"gateway {gateway_id} exited during start-up "
                        f"(log {process.log_path}):\n{process.log_tail()}"
                    ) from None
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"gateway {gateway_id} did not listen on the simulated air in "
                        f"{timeout:.0f} s (log {process.log_path}):\n{process.log_tail()}"
                    ) from None

    async def start_gateways(self) -> None:
        """Start the gateways one after the other, in the order they were given.

        In order, so the first one is first on the broker too: the fleet takes the first
        gateway that reports a band as its source until another hears it clearly better,
        and tests expect the nearer, first-listed gateway to be that source.
        """
        for gateway_id in self.specs:
            await self.start_gateway(gateway_id)
            await self.wait_gateway_connected(gateway_id)

    async def wait_gateway_connected(self, gateway_id: str, timeout: float = 30.0) -> bool:
        """Wait until the gateway's status file says its uplink is up; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.gateway_status(gateway_id).status
            if status is not None and status.uplink.state == "connected":
                return True
            await asyncio.sleep(0.05)
        return False

    def stop_gateway(self, gateway_id: str) -> None:
        process = self.gateway_processes.pop(gateway_id, None)
        if process is not None:
            process.stop()

    def kill_gateway(self, gateway_id: str) -> None:
        """SIGKILL, like a power cut; start_gateway brings it back on the same data."""
        process = self.gateway_processes.pop(gateway_id, None)
        if process is not None:
            process.kill()

    def gateway_status(self, gateway_id: str) -> "GatewayStatusReport":
        """What `silverguard gateway status` would show for this gateway."""

        return read_gateway_status(self.gateway_dir(gateway_id) / "data")

    def gateway_log(self, gateway_id: str) -> str:
        return (self.gateway_dir(gateway_id) / "gateway.log").read_text(errors="replace")

    # -- faults --------------------------------------------------------------------------

    async def stop_broker(self) -> None:
        await asyncio.to_thread(self.mosquitto.stop)

    async def kill_broker(self) -> None:
        """SIGKILL: the broker gets no chance to save its store."""
        await asyncio.to_thread(self.mosquitto.kill)

    async def start_broker(self) -> None:
        """Start it again on the same ports, with the same data and certificates."""
        await asyncio.to_thread(self.mosquitto.start)

    async def restart_fleet(self) -> None:
        await self.stop_fleet()
        await self.start_fleet()

    # -- config push, as the fleet does it -------------------------------------------------

    def make_config(
        self,
        gateway_id: str,
        version: int,
        *,
        bands: dict[str, bytes] | None = None,
        contacts: dict[str, list[str]] | None = None,
        **fields: Any,
    ) -> "GatewayConfig":
        """A desired config with every band's key (and caregivers' numbers) sealed to the
        gateway's public key, as the fleet publishes it. Band i belongs to resident r-i."""
        return desired_config(
            gateway_id,
            version,
            self.gateway_keys[gateway_id][1],
            self.band_keys if bands is None else bands,
            contacts=contacts,
            **fields,
        )

    async def publish_config(self, config: "GatewayConfig") -> None:
        """Publish a desired config retained, as the fleet does (with an account of the
        fleet's rights: the fleet's own is pinned to the running fleet's client id)."""
        await self.publish_raw_config(config.gateway, config.encode())

    async def publish_raw_config(self, gateway_id: str, payload: bytes) -> None:
        """Publish any payload as a gateway's retained config (as a fleet of another
        version, or a broken one, might)."""
        async with self.fleet_side_client("config-publisher") as client:
            await client.publish(
                str(Topic(gateway_id, TopicKind.CONFIG)), payload, qos=1, retain=True
            )

    def fleet_side_client(self, name: str, **options: Any) -> aiomqtt.Client:
        """An MQTT client with the fleet's rights under an account of its own (made on
        first use, pinned to the client id ``name``), for tests that watch the gateways'
        topics or publish as the fleet would; ``options`` go to aiomqtt.Client."""
        creds = self.extra_fleet_credentials.get(name)
        if creds is None:
            creds = self.extra_fleet_credentials[name] = self.mosquitto.add_fleet(
                name, client_id=name
            )
        return aiomqtt.Client(
            self.mosquitto.host,
            self.mosquitto.port,
            username=creds.username,
            password=creds.password,
            identifier=creds.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            **options,
        )

    # -- registry ------------------------------------------------------------------------

    async def register_population(
        self,
        population: Population,
        caregiver_channels: dict[str, list[str]] | None = None,
        *,
        locale: str = "zh-CN",
    ) -> None:
        """One resident and one caregiver per band in one community (silverguard/sim/
        place.py), through the fleet's API; the bands' keys are remembered for configs."""
        assert self.api is not None
        await self.ensure_place()
        for sim in population.bands:
            self.band_keys[sim.band.mac] = sim.band.bind_key
        await place.register_population(self.api, population, caregiver_channels, locale=locale)

    community_id = place.COMMUNITY_ID
    town_id = place.TOWN_ID

    async def ensure_place(self) -> None:
        assert self.api is not None
        await place.ensure_place(self.api, list(self.specs))

    async def influx_query(self, q: str) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.influx.url}/query", data={"q": q, "db": "silverguard", "epoch": "ms"}
            )
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result
