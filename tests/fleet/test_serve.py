"""``silverguard fleet serve`` keeps serving while the broker and InfluxDB are away, and
``silverguard gateway enroll`` gets a gateway its identity from it — as processes."""

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from contract.acl import fleet_acls
from silverguard.servers.mosquitto import MosquittoServer
from silverguard.servers.process import ChildProcess, free_port
from silverguard.sim.settings_files import write_toml
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "silverguard.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        check=False,
    )


def wait_for(check: Any, timeout: float, what: str) -> Any:
    """Until ``check()`` is truthy; a fleet not listening yet is not an answer."""

    def answered() -> Any:
        try:
            return check()
        except httpx.HTTPError:
            return None

    return wait_until(answered, timeout, what)


async def test_serve_degrades_then_recovers_and_a_gateway_enrolls_from_the_cli(tmp_path: Path):
    broker = MosquittoServer(tmp_path / "mosquitto", port=free_port())
    fleet_password = "fleet-password-for-this-test"
    data_dir = tmp_path / "fleet"
    config = data_dir / "fleet.toml"
    write_toml(
        config,
        {
            "mqtt": {
                "host": "127.0.0.1",
                "port": broker.port,
                "username": "fleet",
                "password": fleet_password,
                "client_id": "fleet-serve-test",
            },
            "influx": {"url": f"http://127.0.0.1:{free_port()}"},
            "provisioning": {
                "dynsec_username": broker.admin.username,
                "dynsec_password": broker.admin.password,
            },
        },
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    fleet = ChildProcess(
        "fleet",
        [
            sys.executable,
            "-m",
            "silverguard.cli",
            "fleet",
            "serve",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        tmp_path / "fleet.log",
    )
    token = cli("fleet", "token", "--config", str(config), "--data-dir", str(data_dir))
    assert token.returncode == 0, token.stderr
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    fleet.start()
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            # Broker and InfluxDB are not there: the API serves and says what is degraded.
            health = wait_for(lambda: http.get("/health").json(), 60, "the fleet's API")
            assert health["status"] == "degraded"
            assert health["broker"] == "unreachable (retrying)"
            assert health["influxdb"] == "unreachable (retrying)"
            assert health["database"] == "ok"
            assert http.post("/api/v1/towns", json={"id": "t-a", "name": "A"}).status_code == 201
            assert (
                http.post(
                    "/api/v1/communities", json={"id": "c-a", "town_id": "t-a", "name": "a"}
                ).status_code
                == 201
            )
            created = http.post("/api/v1/gateways", json={"id": "gw-cli", "communities": ["c-a"]})
            assert created.status_code == 201
            enrollment_token = created.json()["enrollment_token"]

            # Enrolling needs the broker: a clear refusal, and the token survives.
            gw_dir = tmp_path / "gateway"
            early = cli(
                "gateway",
                "enroll",
                "--fleet",
                url,
                "--token",
                enrollment_token,
                "--data-dir",
                str(gw_dir),
            )
            assert early.returncode == 1
            assert "HTTP 503" in early.stderr
            assert not (gw_dir / "enrollment.json").exists()

            # The broker comes up; the fleet reconnects by itself.
            broker.start()
            broker.add_client(
                "fleet", fleet_acls(), password=fleet_password, client_id="fleet-serve-test"
            )
            wait_for(lambda: http.get("/health").json()["broker"] == "ok", 60, "broker ok")

            enrolled = cli(
                "gateway",
                "enroll",
                "--fleet",
                url,
                "--token",
                "-",
                "--data-dir",
                str(gw_dir),
                stdin=enrollment_token + "\n",
            )
            assert enrolled.returncode == 0, enrolled.stderr
            assert "enrolled as gateway gw-cli" in enrolled.stdout
            for name in ("enrollment.json", "config.json"):
                assert stat.S_IMODE((gw_dir / name).stat().st_mode) == 0o600
            assert stat.S_IMODE(gw_dir.stat().st_mode) == 0o700
            assert not (gw_dir / "ca.crt").exists()  # this broker has no TLS
            identity = json.loads((gw_dir / "enrollment.json").read_text())
            assert set(identity) == {"gateway_id", "mqtt", "private_key", "public_key"}
            assert identity["gateway_id"] == "gw-cli"
            assert identity["mqtt"]["port"] == broker.port
            assert identity["mqtt"]["tls"] is False
            assert json.loads((gw_dir / "config.json").read_text())["version"] == 1
            shown = http.get("/api/v1/gateways/gw-cli").json()
            assert shown["public_key"] == identity["public_key"]

            # The credentials work against the broker.
            mqtt = identity["mqtt"]
            async with aiomqtt.Client(
                mqtt["host"],
                mqtt["port"],
                username=mqtt["username"],
                password=mqtt["password"],
                identifier="gw-cli",
            ) as client:
                await client.publish("sg/v1/gw/gw-cli/health", b"{}", qos=1)

            # The token was used up; an existing enrollment is not overwritten by mistake.
            reused = cli(
                "gateway",
                "enroll",
                "--fleet",
                url,
                "--token",
                enrollment_token,
                "--data-dir",
                str(tmp_path / "other"),
            )
            assert reused.returncode == 1
            assert "already used" in reused.stderr
            fresh = http.post("/api/v1/gateways/gw-cli/enrollment-token", json={}).json()
            kept = cli(
                "gateway",
                "enroll",
                "--fleet",
                url,
                "--token",
                fresh["enrollment_token"],
                "--data-dir",
                str(gw_dir),
            )
            assert kept.returncode == 1
            assert "--force" in kept.stderr
            assert json.loads((gw_dir / "enrollment.json").read_text()) == identity
    finally:
        fleet.stop()
        broker.stop()
    assert "Traceback" not in (tmp_path / "fleet.log").read_text()
