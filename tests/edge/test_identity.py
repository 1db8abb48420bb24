import json
from pathlib import Path

import pytest

from edge.identity import IdentityError, resolve_identity
from edge.settings import GatewaySettings
from silverguard.config import load_settings


def enroll(data_dir: Path, **overrides: object) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "gateway_id": "gw-0042",
        "mqtt": {
            "host": "fleet.example.org",
            "port": 8883,
            "username": "gw-0042",
            "password": "s3cret",
            "tls": True,
        },
        "private_key": "cHJpdmF0ZQ==",
        "public_key": "cHVibGlj",
    }
    values.update(overrides)
    (data_dir / "enrollment.json").write_text(json.dumps(values))
    (data_dir / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")


def settings_file(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n{body}')
    return path


def test_an_enrolled_gateway_needs_no_identity_in_its_settings(tmp_path: Path):
    enroll(tmp_path / "data")
    settings = resolve_identity(load_settings(GatewaySettings, settings_file(tmp_path)))
    assert settings.gateway_id == "gw-0042"
    assert settings.mqtt.host == "fleet.example.org"
    assert settings.mqtt.port == 8883
    assert settings.mqtt.password.get_secret_value() == "s3cret"
    assert settings.mqtt.tls
    assert settings.mqtt.ca_file == tmp_path / "data" / "ca.crt"
    assert settings.private_key.get_secret_value() == "cHJpdmF0ZQ=="


def test_settings_win_over_the_enrollment_value_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    enroll(tmp_path / "data")
    monkeypatch.setenv("SG_GATEWAY_MQTT__PORT", "18883")
    path = settings_file(tmp_path, '[mqtt]\nhost = "10.0.0.5"\n')
    settings = resolve_identity(load_settings(GatewaySettings, path))
    assert settings.mqtt.host == "10.0.0.5"
    assert settings.mqtt.port == 18883
    assert settings.mqtt.username == "gw-0042"  # not overridden: from the file


def test_a_data_dir_enrolled_for_another_gateway_is_refused(tmp_path: Path):
    enroll(tmp_path / "data")
    path = settings_file(tmp_path, 'gateway_id = "gw-0001"\n')
    with pytest.raises(IdentityError, match="gw-0042"):
        resolve_identity(load_settings(GatewaySettings, path))


def test_no_id_anywhere_says_what_to_do(tmp_path: Path):
    with pytest.raises(IdentityError, match="silverguard gateway enroll"):
        resolve_identity(load_settings(GatewaySettings, settings_file(tmp_path)))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{broken", "cannot be read"),
        ("[]", "not a JSON object"),
        ('{"gateway_id": "Bad Id"}', "gateway_id"),
        ('{"gateway_id": "gw-1", "mqtt": {"port": "x"}}', "mqtt.port"),
    ],
)
def test_a_damaged_enrollment_file_is_named(tmp_path: Path, content: str, problem: str):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "enrollment.json").write_text(content)
    with pytest.raises(IdentityError, match=problem):
        resolve_identity(load_settings(GatewaySettings, settings_file(tmp_path)))


def test_an_enrollment_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    enroll(tmp_path / "data")
    (tmp_path / "data" / "enrollment.json").chmod(0o644)
    resolve_identity(load_settings(GatewaySettings, settings_file(tmp_path)))
    assert "readable by other users" in caplog.text
    caplog.clear()
    (tmp_path / "data" / "enrollment.json").chmod(0o600)
    resolve_identity(load_settings(GatewaySettings, settings_file(tmp_path)))
    assert "readable" not in caplog.text
