"""The production deployment files are valid."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).parent.parent / "docker"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
@pytest.mark.parametrize(
    ("compose", "example"),
    [
        ("compose.yaml", ".env.example"),  # one site: Mosquitto
        ("compose.city.yaml", ".env.city.example"),  # a city: an EMQX cluster, fleets
    ],
)
def test_compose_file_is_valid_and_refuses_missing_secrets(
    tmp_path: Path, compose: str, example: str
) -> None:
    env = tmp_path / ".env"
    values = [line for line in (DOCKER / example).read_text().splitlines() if "=" in line]
    env.write_text("\n".join(v if not v.endswith("=") else v + "secret" for v in values) + "\n")
    ok = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(DOCKER / compose),
            "--env-file",
            str(env),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    env.write_text("PUBLIC_URL=https://x\n")
    missing = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(DOCKER / compose),
            "--env-file",
            str(env),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert missing.returncode != 0
    assert "PASSWORD in .env" in missing.stderr  # names the missing secret


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_the_city_profile_runs_several_fleets_on_an_emqx_cluster(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    values = [
        line for line in (DOCKER / ".env.city.example").read_text().splitlines() if "=" in line
    ]
    env.write_text("\n".join(v if not v.endswith("=") else v + "secret" for v in values) + "\n")
    done = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(DOCKER / "compose.city.yaml"),
            "--env-file",
            str(env),
            "config",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    config = yaml.safe_load(done.stdout)
    services = config["services"]
    brokers = [s for s in services.values() if str(s.get("image", "")).startswith("emqx/emqx")]
    assert len(brokers) == 3
    seeds = {b["environment"]["EMQX_CLUSTER__STATIC__SEEDS"] for b in brokers}
    assert len(seeds) == 1  # one cluster
    assert {b["environment"]["EMQX_NODE__NAME"] for b in brokers} == {
        f"emqx@emqx{i}.sg.internal" for i in (1, 2, 3)
    }
    fleets = [s for s in services.values() if "SG_FLEET_MQTT__USERNAME" in s.get("environment", {})]
    assert len(fleets) >= 2
    # Each fleet process its own broker account and client id, the same secret key.
    assert len({f["environment"]["SG_FLEET_MQTT__CLIENT_ID"] for f in fleets}) == len(fleets)
    assert len({f["environment"]["SG_FLEET_SECRET_KEY"] for f in fleets}) == 1
    assert all(f["environment"]["SG_FLEET_DATABASE_URL"].startswith("postgresql") for f in fleets)
