"""The gateway's identity: what ``silverguard gateway enroll`` leaves in the data directory.

``data_dir/enrollment.json`` holds the gateway's id, its MQTT credentials and its key
pair (mode 0600), ``data_dir/ca.crt`` the fleet's CA certificate::

    {"gateway_id": "gw-0001",
     "mqtt": {"host": "...", "port": 8883, "username": "gw-0001", "password": "...", "tls": true},
     "private_key": "<base64>", "public_key": "<base64>"}

Settings (TOML, environment) win over the file value by value, so a technician can
point a gateway at another broker without re-enrolling.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from contract.topics import GATEWAY_ID_RE
from edge.settings import GatewaySettings

log = logging.getLogger(__name__)

ENROLLMENT_FILE = "enrollment.json"
CA_FILE = "ca.crt"


class IdentityError(ValueError):
    """The gateway cannot tell who it is; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Enrollment:
    gateway_id: str
    mqtt: dict[str, Any] = field(default_factory=dict)
    private_key: str = ""
    public_key: str = ""


_MQTT_KEYS = {"host": str, "port": int, "username": str, "password": str, "tls": bool}


def read_enrollment(data_dir: Path) -> Enrollment | None:
    """The enrollment file's contents, None if there is none; IdentityError if unusable."""
    path = data_dir / ENROLLMENT_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{path} cannot be read: {exc}; enroll the gateway again") from None
    if not isinstance(raw, dict):
        raise IdentityError(f"{path} is not a JSON object; enroll the gateway again")
    if path.stat().st_mode & 0o077:
        # It holds the MQTT password and the private key that opens sealed secrets.
        log.warning("%s is readable by other users: chmod 600 it", path)
    gateway_id = raw.get("gateway_id")
    if not isinstance(gateway_id, str) or not GATEWAY_ID_RE.match(gateway_id):
        raise IdentityError(f"{path}: 'gateway_id' is missing or not a valid gateway id")
    mqtt = raw.get("mqtt", {})
    if not isinstance(mqtt, dict):
        raise IdentityError(f"{path}: 'mqtt' must be an object")
    for key, value in mqtt.items():
        expected = _MQTT_KEYS.get(key)
        if expected is None:
            continue  # a newer enroller may add keys; they are not ours to refuse
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise IdentityError(f"{path}: mqtt.{key} must be a {expected.__name__}")
    keys = {k: raw.get(k, "") for k in ("private_key", "public_key")}
    for key, value in keys.items():
        if not isinstance(value, str):
            raise IdentityError(f"{path}: '{key}' must be a base64 string")
    return Enrollment(
        gateway_id=gateway_id,
        mqtt={k: v for k, v in mqtt.items() if k in _MQTT_KEYS},
        private_key=keys["private_key"],
        public_key=keys["public_key"],
    )


def resolve_identity(settings: GatewaySettings) -> GatewaySettings:
    """Fill what the settings leave unset from enrollment.json and ca.crt."""
    enrollment = read_enrollment(settings.data_dir)
    update: dict[str, Any] = {}
    mqtt_given = settings.mqtt.model_fields_set
    mqtt_update: dict[str, Any] = {}
    if enrollment is not None:
        if not settings.gateway_id:
            update["gateway_id"] = enrollment.gateway_id
        elif settings.gateway_id != enrollment.gateway_id:
            raise IdentityError(
                f"settings say gateway_id {settings.gateway_id!r} but "
                f"{settings.data_dir / ENROLLMENT_FILE} was made for "
                f"{enrollment.gateway_id!r}; use another data_dir or enroll again"
            )
        if not settings.private_key.get_secret_value() and enrollment.private_key:
            update["private_key"] = SecretStr(enrollment.private_key)
        for key, value in enrollment.mqtt.items():
            if key not in mqtt_given:
                mqtt_update[key] = SecretStr(value) if key == "password" else value
    ca = settings.data_dir / CA_FILE
    if "ca_file" not in mqtt_given and settings.mqtt.ca_file is None and ca.exists():
        mqtt_update["ca_file"] = ca
        if "tls" not in mqtt_given and "tls" not in mqtt_update:
            mqtt_update["tls"] = True  # a CA left by enrollment means the link is TLS
    if mqtt_update:
        update["mqtt"] = settings.mqtt.model_copy(update=mqtt_update)
    resolved = settings.model_copy(update=update)
    if not resolved.gateway_id:
        raise IdentityError(
            f"setting 'gateway_id' is not set and {settings.data_dir / ENROLLMENT_FILE} does "
            "not exist: enroll the gateway (silverguard gateway enroll) or set gateway_id "
            "in the config file or with $SG_GATEWAY_GATEWAY_ID"
        )
    return resolved
