"""Enrolling this gateway with the fleet: ``silverguard gateway enroll``.

The gateway makes its own Curve25519 key pair, sends the public half with the one-time
token a health-center staff member gave the site engineer, and receives its MQTT
credentials, the broker's CA certificate and its first config. Everything is written
to the data directory with mode 0600 (the directory itself 0700):

    enrollment.json  contract.enrollment.EnrollmentRecord: id, MQTT credentials, key pair
    ca.crt           the broker's CA (only when the broker uses TLS)
    config.json      the first GatewayConfig

enrollment.json is written last, so its presence means the enrollment is complete.
The private key never leaves this machine. Only the standard library speaks HTTP here:
a gateway has no fleet packages.
"""

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from contract.config import explain
from contract.enrollment import EnrollmentRecord, EnrollmentRequest, EnrollmentResponse
from contract.files import write_atomically
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


def _post(url: str, body: bytes, cafile: Path | None, timeout: float) -> EnrollmentResponse:
    if not url.startswith(("http://", "https://")):
        raise EnrollError(f"--fleet must be an http:// or https:// URL, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            raw = response.read()
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
    try:
        return EnrollmentResponse.model_validate_json(raw)
    except ValidationError as exc:
        if b"{" not in raw[:1]:
            raise EnrollError(
                "the fleet's answer is not JSON; is --fleet the fleet's address?"
            ) from None
        raise EnrollError(
            f"the fleet's answer cannot be used by this gateway: {explain(exc)}"
        ) from None


def _detail(raw: bytes) -> str:
    try:
        detail = json.loads(raw).get("detail", "")
    except (ValueError, AttributeError):
        return raw.decode(errors="replace")[:300]
    if isinstance(detail, list):  # FastAPI's validation errors
        return "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    return str(detail)


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
            current = EnrollmentRecord.model_validate_json(existing.read_bytes()).gateway_id
        except (OSError, ValueError):
            current = "?"
        raise EnrollError(
            f"{data_dir} already holds the enrollment of gateway {current}; "
            "pass --force to replace it (the old credentials stop being used)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    private_key, public_key = generate_keypair()
    request = EnrollmentRequest(token=token.strip(), public_key=public_key)
    answer = _post(
        fleet_url.rstrip("/") + "/api/v1/enroll",
        request.model_dump_json().encode(),
        cafile,
        timeout,
    )
    if answer.config.gateway != answer.gateway_id:
        raise EnrollError(f"the config is for {answer.config.gateway}, not {answer.gateway_id}")
    if answer.mqtt.tls and not answer.ca_cert:
        raise EnrollError("the broker uses TLS but the fleet sent no CA certificate")

    if answer.ca_cert:
        write_atomically(data_dir / CA_FILE, answer.ca_cert.encode())
    else:
        (data_dir / CA_FILE).unlink(missing_ok=True)  # a stale CA would be trusted otherwise
    write_atomically(data_dir / CONFIG_FILE, answer.config.encode())
    record = EnrollmentRecord(
        gateway_id=answer.gateway_id,
        mqtt=answer.mqtt,
        private_key=private_key,
        public_key=public_key,
    )
    write_atomically(existing, record.model_dump_json(indent=2).encode())
    return Enrolled(
        gateway_id=answer.gateway_id,
        broker=f"{answer.mqtt.host}:{answer.mqtt.port}",
        tls=answer.mqtt.tls,
        config_version=answer.config.version,
        data_dir=data_dir,
    )
