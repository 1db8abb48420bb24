"""Fleet fixtures: a registry on SQLite and on a private PostgreSQL cluster, the API
in-process, and a real Mosquitto with the dynamic-security plugin for provisioning.

``db_url`` is parametrized over both databases, so every test that uses it (directly
or through ``api``) runs on both. The PostgreSQL cluster starts once per session from
the installed binaries; each test gets a fresh database copied from a migrated
template, and each SQLite test a copy of a migrated file.
"""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fleet.db.session import migrate
from fleet.settings import FleetSettings
from silverguard.servers.mosquitto import Credentials, MosquittoServer
from silverguard.servers.postgres import PostgresServer
from silverguard.servers.process import free_port
from tests.fleet.helpers import Api, make_app


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        migrate(server.create_database("sg_template"))
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "registry.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "registry.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"t_{uuid.uuid4().hex[:16]}", template="sg_template")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> FleetSettings:
    """Fleet settings whose broker and InfluxDB are unreachable (closed ports)."""
    closed = free_port()
    return FleetSettings(
        data_dir=tmp_path / "fleet",
        database_url=db_url,
        mqtt={"host": "127.0.0.1", "port": closed},  # type: ignore[arg-type]
        influx={"url": f"http://127.0.0.1:{free_port()}"},  # type: ignore[arg-type]
        # The tests' notification receivers listen on the loopback, which the channel
        # policy refuses unless allowed (tests/security checks the refusal itself).
        channel_allow_hosts=["127.0.0.1"],
    )


@pytest.fixture
def api(settings: FleetSettings) -> Iterator[Api]:
    with TestClient(make_app(settings)) as client:
        yield Api(client)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    # One per test: retained configs and persistent sessions must not leak between tests.
    server = MosquittoServer(tmp_path / "mosquitto").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet_mqtt(broker: MosquittoServer) -> Credentials:
    return broker.add_fleet()


@pytest.fixture
def provisioning_settings(
    db_url: str, tmp_path: Path, broker: MosquittoServer, fleet_mqtt: Credentials
) -> FleetSettings:
    """Fleet settings against the real broker, with the dynamic-security admin."""
    return FleetSettings(
        data_dir=tmp_path / "fleet",
        database_url=db_url,
        mqtt={  # type: ignore[arg-type]
            "host": broker.host,
            "port": broker.port,
            "username": fleet_mqtt.username,
            "password": fleet_mqtt.password,
            "client_id": fleet_mqtt.client_id,
        },
        influx={"url": f"http://127.0.0.1:{free_port()}"},  # type: ignore[arg-type]
        provisioning={  # type: ignore[arg-type]
            "dynsec_username": broker.admin.username,
            "dynsec_password": broker.admin.password,
        },
        channel_allow_hosts=["127.0.0.1"],
    )


@pytest.fixture
def papi(provisioning_settings: FleetSettings) -> Iterator[Api]:
    """The API of a fleet connected to the real broker."""
    with TestClient(make_app(provisioning_settings)) as client:
        yield Api(client)
