"""The production deployment files are valid."""

import shutil
import subprocess
from pathlib import Path

import pytest

DOCKER = Path(__file__).parent.parent / "docker"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_file_is_valid_and_refuses_missing_secrets(tmp_path: Path):
    env = tmp_path / ".env"
    values = [line for line in (DOCKER / ".env.example").read_text().splitlines() if "=" in line]
    env.write_text("\n".join(v if not v.endswith("=") else v + "secret" for v in values) + "\n")
    ok = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(DOCKER / "compose.yaml"),
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
            str(DOCKER / "compose.yaml"),
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
