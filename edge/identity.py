"""The gateway's identity: what ``silverguard gateway enroll`` leaves in the data directory.

``data_dir/enrollment.json`` holds the gateway's id, its MQTT credentials and its key
pair (mode 0600; :class:`contract.enrollment.EnrollmentRecord`), ``data_dir/ca.crt``
the fleet's CA certificate.

Settings (TOML, environment) win over the file value by value, so a technician can
point a gateway at another broker without re-enrolling.
"""

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from contract.config import explain
from contract.enrollment import EnrollmentRecord
from edge.settings import GatewaySettings

log = logging.getLogger(__name__)

ENROLLMENT_FILE = "enrollment.json"
CA_FILE = "ca.crt"


class IdentityError(ValueError):
    """The gateway cannot tell who it is; the message says what to do."""


def read_enrollment(data_dir: Path) -> EnrollmentRecord | None:
    """The enrollment file's contents, None if there is none; IdentityError if unusable."""
    path = data_dir / ENROLLMENT_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IdentityError(f"{path} cannot be read: {exc}; enroll the gateway again") from None
    if path.stat().st_mode & 0o077:
        # It holds the MQTT password and the private key that opens sealed secrets.
        log.warning("%s is readable by other users: chmod 600 it", path)
    try:
        data = json.loads(raw)
    except ValueError:
        raise IdentityError(
            f"{path} cannot be read: it is not JSON; enroll the gateway again"
        ) from None
    if not isinstance(data, dict):
        raise IdentityError(f"{path} is not a JSON object; enroll the gateway again")
    try:
        return EnrollmentRecord.model_validate(data)
    except ValidationError as exc:
        raise IdentityError(f"{path}: {explain(exc)}; enroll the gateway again") from None


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
        for key, value in enrollment.mqtt.model_dump().items():
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
