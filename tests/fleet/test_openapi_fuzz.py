"""Schemathesis against the fleet's OpenAPI: no generated request gets a 5xx.

Runs in-process (ASGI) on a seeded SQLite registry, as an admin (the widest scope),
with a bounded number of examples per operation to keep the suite fast.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from fleet.auth import Role
from fleet.settings import FleetSettings
from silverguard.servers.process import free_port
from tests.fleet.helpers import Api, district, make_app

EXAMPLES_PER_OPERATION = int(os.environ.get("SG_FUZZ_EXAMPLES", "30"))
# Streams that answer for as long as the client listens (an in-process call would wait
# forever); the console's browser tests exercise them.
NEVER_ENDING = {"/api/v1/alerts/stream"}


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp("fuzz")
    settings_ = FleetSettings(
        data_dir=data,
        database_url=f"sqlite:///{Path(data) / 'registry.db'}",
        mqtt={"host": "127.0.0.1", "port": free_port()},  # type: ignore[arg-type]
        influx={"url": f"http://127.0.0.1:{free_port()}"},  # type: ignore[arg-type]
    )
    with TestClient(make_app(settings_)) as client:
        api = Api(client)
        district(api)
        api.admin.ok(
            "post",
            "/api/v1/wristbands",
            {
                "mac": "C2:00:00:00:00:01",
                "bind_key": "00112233445566778899aabbccddeeff",
                "resident_id": "r-1",
            },
            201,
        )
        api.admin.ok(
            "post", "/api/v1/gateways", {"id": "gw-fuzz", "communities": ["c-xingfu"]}, 201
        )
        yield api


def test_no_generated_request_gets_a_server_error(fuzz_api: Api) -> None:
    # One Hypothesis run per operation, inside this test: schemathesis' lazy pytest
    # loader does not work with pytest 9 yet, and the app needs a seeded registry.
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_api.client.app)
    headers = {"Authorization": f"Bearer {fuzz_api.token('root', Role.ADMIN)}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.path in NEVER_ENDING:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            inner = getattr(exc, "exceptions", ())
            failures.append(f"{operation.method.upper()} {operation.path}: {exc} {inner!r}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
