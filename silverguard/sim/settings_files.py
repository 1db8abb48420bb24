"""The files a site engineer would write for the stack's processes: each fleet's and
gateway's TOML settings, and a gateway's ``enrollment.json`` as ``silverguard gateway
enroll`` leaves it (the contract's ``EnrollmentRecord``, written the gateway's way)."""

from pathlib import Path
from typing import Any

import tomli_w

from contract.enrollment import EnrollmentRecord, MqttCredentials
from contract.files import write_atomically
from silverguard.servers.mosquitto import Credentials


def write_toml(path: Path, values: dict[str, Any]) -> None:
    """Settings as TOML, mode 0600 (they hold credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, tomli_w.dumps(_without_none(values)).encode(), sync=False)


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    # TOML has no null: a setting not given is a setting left out.
    return {
        key: _without_none(value) if isinstance(value, dict) else value
        for key, value in values.items()
        if value is not None
    }


def merged(values: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``values``, one level of tables deep (a test's ``mqtt = {...}``
    changes some MQTT settings, not all)."""
    out = dict(values)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def write_enrollment(
    data_dir: Path,
    gateway_id: str,
    *,
    host: str,
    port: int,
    creds: Credentials,
    keys: tuple[str, str],
) -> Path:
    """What ``silverguard gateway enroll`` leaves in the data directory (mode 0600)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    private, public = keys
    record = EnrollmentRecord(
        gateway_id=gateway_id,
        mqtt=MqttCredentials(
            host=host, port=port, username=creds.username, password=creds.password, tls=True
        ),
        private_key=private,
        public_key=public,
    )
    path = data_dir / "enrollment.json"
    write_atomically(path, record.model_dump_json(indent=2).encode())
    return path
