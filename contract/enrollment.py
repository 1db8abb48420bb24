"""Enrollment: the one-time exchange between a new gateway and the fleet, and the
record it leaves on the gateway's disk.

``POST /api/v1/enroll`` takes an :class:`EnrollmentRequest` (the one-time token and the
gateway's freshly made public key) and answers an :class:`EnrollmentResponse` (the
gateway's id, its own MQTT credentials, the broker's CA and its first config). The
gateway keeps an :class:`EnrollmentRecord` in ``data_dir/enrollment.json`` (mode 0600)
with its private key, which never leaves the gateway.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contract.config import GatewayConfig
from contract.topics import GATEWAY_ID_RE

GatewayId = Annotated[str, StringConstraints(pattern=GATEWAY_ID_RE.pattern)]
Base64Key = Annotated[str, StringConstraints(min_length=40, max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttCredentials(_Model):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200, repr=False)
    tls: bool


class EnrollmentRequest(_Model):
    token: str = Field(min_length=10, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
    public_key: Base64Key = Field(description="the gateway's Curve25519 public key, base64")


class EnrollmentResponse(_Model):
    gateway_id: GatewayId
    mqtt: MqttCredentials
    ca_cert: str = Field(
        "", max_length=65536, description="PEM of the broker's CA; empty without TLS"
    )
    config: GatewayConfig = Field(description="the first desired config")


class EnrollmentRecord(BaseModel):
    """``data_dir/enrollment.json``: who this gateway is and how it reaches the broker.

    Unknown keys are ignored rather than refused: a newer enroller may add some.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    gateway_id: GatewayId
    mqtt: MqttCredentials
    private_key: str = Field("", repr=False, description="base64; opens sealed secrets")
    public_key: str = ""
