import subprocess
import sys
from pathlib import Path

import pytest

from edge.settings import GatewaySettings
from silverguard.config import ConfigError, load_settings


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "gw.toml"
    path.write_text('gateway_id = "gw-07"\n[mqtt]\nhost = "broker.example"\nport = 8883\n')
    monkeypatch.setenv("SG_GATEWAY_MQTT__PORT", "1884")
    settings = load_settings(GatewaySettings, path)
    assert settings.gateway_id == "gw-07"
    assert settings.mqtt.host == "broker.example"  # from the file
    assert settings.mqtt.port == 1884  # the environment wins, key by key


def test_a_bad_value_is_named(tmp_path: Path):
    path = tmp_path / "gw.toml"
    path.write_text('gateway_id = "Gateway One"\n[[bands]]\nmac = "nope"\nkey = "00"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(GatewaySettings, path)
    message = str(raised.value)
    assert "gateway_id" in message
    assert "bands.0.mac" in message
    assert "SG_GATEWAY_GATEWAY_ID" in message


def test_the_gateway_stops_with_a_message_naming_the_missing_setting(tmp_path: Path):
    path = tmp_path / "gw.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n[mqtt]\nport = 1883\n')
    result = subprocess.run(
        [sys.executable, "-m", "silverguard.cli", "gateway", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 2
    assert "gateway_id" in result.stderr
    assert "is not set" in result.stderr
    assert "silverguard gateway enroll" in result.stderr


def test_a_missing_config_file_is_reported(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(GatewaySettings, tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["gateway", "run", "--help"],
        ["gateway", "status", "--help"],
        ["fleet", "serve", "--help"],
        ["demo", "--help"],
    ],
)
def test_every_command_has_help(argv: list[str]):
    result = subprocess.run(
        [sys.executable, "-m", "silverguard.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "usage: silverguard" in result.stdout
