"""Enrolling this gateway with the fleet: ``silverguard gateway enroll``.

The gateway makes its own Curve25519 key pair, sends the public half with the one-time
token a health-center staff member gave the site engineer, and receives its MQTT
credentials, the broker's CA certificate and its first config. Everything is written
to the data directory with mode 0600 (the directory itself 0700):

    enrollment.json  {"gateway_id", "mqtt": {"host", "port", "username", "password",
                      "tls"}, "private_key", "public_key"}
    ca.crt           the broker's CA (only when the broker uses TLS)
    config.json      the first GatewayConfig

enrollment.json is written last, so its presence means the enrollment is complete.
The private key never leaves this machine. Only the standard library speaks HTTP here:
a gateway has no fleet packages.
"""

import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import WireError, decode
from contract.config import GatewayConfig
from contract.sealing import generate_keypair

ENROLLMENT_FILE = "enrollment.json"
CA_FILE = "ca.crt"
CONFIG_FILE = "config.json"


class EnrollError(Exception):
    """Enrollment did not happen; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Enrolled:
    gateway_id: str
    broker: str  # host:port
    tls: bool
    config_version: int
    data_dir: Path


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600: a crash leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to an existing file
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _post(url: str, body: dict[str, Any], cafile: Path | None, timeout: float) -> dict[str, Any]:
    if not url.startswith(("http://", "https://")):
        raise EnrollError(f"--fleet must be an http:// or https:// URL, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            payload: Any = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = _detail(exc.read())
        hint = {
            403: " Ask the health center for a new token if it has expired or was used.",
            503: " The fleet could not reach its broker; try again in a minute.",
        }.get(exc.code, "")
        raise EnrollError(
            f"the fleet refused the enrollment (HTTP {exc.code}): {detail}.{hint}"
        ) from None
    except urllib.error.URLError as exc:
        raise EnrollError(f"cannot reach the fleet at {url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise EnrollError(f"cannot reach the fleet at {url}: {exc}") from None
    except ValueError:
        raise EnrollError(
            "the fleet's answer is not JSON; is --fleet the fleet's address?"
        ) from None
    if not isinstance(payload, dict):
        raise EnrollError("the fleet's answer is not a JSON object")
    return payload


def _detail(raw: bytes) -> str:
    try:
        detail = json.loads(raw).get("detail", "")
    except (ValueError, AttributeError):
        return raw.decode(errors="replace")[:300]
    if isinstance(detail, list):  # FastAPI's validation errors
        return "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    return str(detail)


def _mqtt_section(answer: dict[str, Any]) -> dict[str, Any]:
    mqtt = answer.get("mqtt")
    if not isinstance(mqtt, dict):
        raise EnrollError("the fleet's answer has no MQTT credentials")
    try:
        section = {
            "host": str(mqtt["host"]),
            "port": int(mqtt["port"]),
            "username": str(mqtt["username"]),
            "password": str(mqtt["password"]),
            "tls": bool(mqtt["tls"]),
        }
    except (KeyError, TypeError, ValueError):
        raise EnrollError("the fleet's MQTT credentials are incomplete") from None
    return section


def enroll(
    fleet_url: str,
    token: str,
    data_dir: Path,
    *,
    cafile: Path | None = None,
    force: bool = False,
    timeout: float = 30.0,
) -> Enrolled:
    data_dir = Path(data_dir)
    existing = data_dir / ENROLLMENT_FILE
    if existing.exists() and not force:
        try:
            current = json.loads(existing.read_text()).get("gateway_id", "?")
        except (OSError, ValueError, AttributeError):
            current = "?"
        raise EnrollError(
            f"{data_dir} already holds the enrollment of gateway {current}; "
            "pass --force to replace it (the old credentials stop being used)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    private_key, public_key = generate_keypair()
    answer = _post(
        fleet_url.rstrip("/") + "/api/v1/enroll",
        {"token": token.strip(), "public_key": public_key},
        cafile,
        timeout,
    )
    gateway_id = answer.get("gateway_id")
    if not isinstance(gateway_id, str) or not gateway_id:
        raise EnrollError("the fleet's answer names no gateway")
    mqtt = _mqtt_section(answer)
    try:
        config = decode(json.dumps(answer.get("config")).encode(), GatewayConfig)
    except WireError as exc:
        raise EnrollError(f"the fleet sent a config this gateway cannot read: {exc}") from None
    if config.gateway != gateway_id:
        raise EnrollError(f"the config is for {config.gateway}, not {gateway_id}")
    ca_cert = answer.get("ca_cert") or ""
    if mqtt["tls"] and not ca_cert:
        raise EnrollError("the broker uses TLS but the fleet sent no CA certificate")

    if ca_cert:
        _write_private(data_dir / CA_FILE, str(ca_cert).encode())
    else:
        (data_dir / CA_FILE).unlink(missing_ok=True)  # a stale CA would be trusted otherwise
    _write_private(
        data_dir / CONFIG_FILE, json.dumps(answer["config"], ensure_ascii=False).encode()
    )
    record = {
        "gateway_id": gateway_id,
        "mqtt": mqtt,
        "private_key": private_key,
        "public_key": public_key,
    }
    _write_private(existing, json.dumps(record, indent=2).encode())
    return Enrolled(
        gateway_id=gateway_id,
        broker=f"{mqtt['host']}:{mqtt['port']}",
        tls=mqtt["tls"],
        config_version=config.version,
        data_dir=data_dir,
    )
