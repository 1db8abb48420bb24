"""The gateway's settings: one class, built once at start-up, passed down."""

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.meters.config import MeterList
from edge.rules.config import BandBinding, GatewayRules, ResidentRules, RulesConfig
from edge.rules.routine_settings import RoutineSettings
from silverguard.wire.topics import GATEWAY_ID_RE

MAC_RE = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")


def normalise_mac(value: str) -> str:
    mac = value.strip().upper().replace("-", ":")
    if not MAC_RE.match(mac):
        raise ValueError(f"{value!r} is not a MAC address like AA:BB:CC:DD:EE:FF")
    return mac


def parse_bind_key(value: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        raise ValueError("a bind key is 32 hexadecimal characters") from None
    if len(key) != 16:
        raise ValueError("a bind key is 32 hexadecimal characters (16 bytes)")
    return key


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    # CA certificate of the fleet's broker; when set, the link is TLS.
    ca_file: Path | None = None
    keepalive_s: int = Field(30, ge=5, le=600)
    # Reconnect backoff: exponential from min to max, with full jitter.
    backoff_min_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)


class RadioSettings(BaseModel):
    # "bluez": the real adapter on the Pi. "simulated": firmware_mocks' radio.
    backend: Literal["bluez", "simulated"] = "bluez"
    adapter: str = "hci0"
    air: str = "127.0.0.1:47000"  # the simulated radio's address (backend = simulated)
    position: tuple[float, float] = (0.0, 0.0)  # where the gateway stands, metres


class BandSettings(BaseModel):
    mac: str
    key: SecretStr  # BTHome bind key, 32 hex characters
    resident: str | None = None  # opaque resident id: whose schedule the rules apply
    flat: str | None = None  # opaque flat id: whose meters witness for inactivity

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str) -> str:
        return normalise_mac(value)

    @field_validator("key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        parse_bind_key(value.get_secret_value())
        return value

    @property
    def key_bytes(self) -> bytes:
        return parse_bind_key(self.key.get_secret_value())


class SensorSettings(BaseModel):
    """Another BTHome device in a flat: door contact, motion or temperature sensor."""

    mac: str
    key: SecretStr | None = None  # None: the sensor advertises in plaintext
    flat: str | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str) -> str:
        return normalise_mac(value)

    @field_validator("key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_bind_key(value.get_secret_value())
        return value

    @property
    def key_bytes(self) -> bytes | None:
        return parse_bind_key(self.key.get_secret_value()) if self.key is not None else None


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SG_GATEWAY_", env_nested_delimiter="__", extra="forbid"
    )

    gateway_id: str = Field(..., description="opaque id, e.g. gw-0001")
    data_dir: Path = Path("/var/lib/silverguard/gateway")
    mqtt: MqttSettings = MqttSettings()
    radio: RadioSettings = RadioSettings()
    bands: list[BandSettings] = []
    sensors: list[SensorSettings] = []
    # Rule thresholds ([rules], the fleet's GatewayConfig.rules) and residents'
    # schedules ([[residents]], its ResidentConfig entries): see docs/rules.md.
    rules: GatewayRules = GatewayRules()
    residents: list[ResidentRules] = []
    meters: MeterList = []  # utility meters on the gateway's serial ports (docs/meters.md)
    routine: RoutineSettings = RoutineSettings()  # thresholds of the utility-routine rules
    # Telemetry: one batch per interval with the latest reading of each device heard.
    telemetry_interval_s: float = Field(10.0, gt=0)
    # An unacknowledged event is published again after this long.
    event_resend_s: float = Field(10.0, gt=0)
    log_level: str = "INFO"

    @field_validator("gateway_id")
    @classmethod
    def _gateway_id(cls, value: str) -> str:
        if not GATEWAY_ID_RE.match(value):
            raise ValueError("use 2-63 characters of a-z, 0-9 and '-' (an opaque id)")
        return value

    def rules_config(self) -> RulesConfig:
        """The rule engine's config from these settings (until the fleet pushes one)."""
        bands = {b.mac: BandBinding(b.resident, b.flat) for b in self.bands}
        return RulesConfig.build(self.rules, self.residents, bands)
