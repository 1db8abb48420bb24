"""The gateway's settings: one class, built once at start-up, passed down."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.clock import validate_clock
from contract.config import ResidentConfig
from contract.ids import normalise_mac, parse_bind_key
from contract.meters import MeterList
from contract.rules import GatewayRules
from contract.topics import GATEWAY_ID_RE
from edge.rules.config import BandBinding, RulesConfig
from edge.rules.routine_settings import RoutineSettings


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    # TLS on the broker link. With ca_file the broker is verified against the fleet's CA
    # (enrollment leaves it in data_dir/ca.crt); without, against the system's store.
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = Field(30, ge=5, le=600)
    # Reconnect backoff: exponential from min to max, with "equal jitter".
    backoff_min_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _ca_means_tls(self) -> "MqttSettings":
        if self.ca_file is not None:
            self.tls = True
        return self


class OutboxSettings(BaseModel):
    # Soft bound on queued payloads: past it the oldest telemetry is thinned. Events are
    # never dropped, so they alone may exceed it.
    max_mb: float = Field(64.0, gt=0)
    # Telemetry older than this is not worth sending any more.
    max_telemetry_age_h: float = Field(168.0, gt=0)
    # Hard ceiling on the outbox file (SQLite max_page_count); behaves like a full disk.
    max_file_mb: float | None = Field(None, gt=0)


class ModemSettings(BaseModel):
    """A USB cellular modem for SMS while the uplink is down (optional)."""

    port: str  # e.g. /dev/ttyUSB2 (the modem's AT port) or /dev/serial/by-id/...
    baud: int = Field(115200, ge=1200)
    # Send the SMS itself only when the uplink has been down at least this long: the
    # fleet's own notifications are better (escalation, acknowledgement links).
    offline_after_s: float = Field(300.0, ge=0)
    # Which events are worth a local SMS.
    severities: list[Literal["critical", "high", "medium", "low"]] = ["critical"]
    # How long to wait for the modem's answer to one command; +CMGS can take a while.
    command_timeout_s: float = Field(5.0, gt=0)
    send_timeout_s: float = Field(60.0, gt=0)


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

    # Opaque id, e.g. gw-0001. Empty: taken from data_dir/enrollment.json.
    gateway_id: str = ""
    data_dir: Path = Path("/var/lib/silverguard/gateway")
    # The gateway's Curve25519 private key (base64) that opens sealed config secrets.
    # Empty: taken from data_dir/enrollment.json, where enrollment leaves it.
    private_key: SecretStr = SecretStr("")
    mqtt: MqttSettings = MqttSettings()
    radio: RadioSettings = RadioSettings()
    # Bands configured locally; the fleet's pushed config adds to them (local wins).
    bands: list[BandSettings] = []
    sensors: list[SensorSettings] = []
    # Rule thresholds ([rules], the fleet's GatewayConfig.rules) and residents'
    # schedules ([[residents]], its ResidentConfig entries): see docs/rules.md.
    rules: GatewayRules = GatewayRules()
    residents: list[ResidentConfig] = []
    outbox: OutboxSettings = OutboxSettings()
    modem: ModemSettings | None = None
    meters: MeterList = []  # utility meters on the gateway's serial ports (docs/meters.md)
    routine: RoutineSettings = RoutineSettings()  # thresholds of the utility-routine rules
    # Telemetry: one batch per interval with the latest reading of each device heard.
    telemetry_interval_s: float = Field(10.0, gt=0)
    # An unacknowledged event is published again after this long (doubling per copy).
    event_resend_s: float = Field(10.0, gt=0)
    heartbeat_s: float = Field(30.0, gt=0)
    # How often data_dir/status.json is rewritten for `silverguard gateway status`.
    status_interval_s: float = Field(5.0, gt=0)
    log_level: str = "INFO"
    # Product time (contract/clock.py): empty is real time; the district simulation
    # gives every process the same "scaled:START:WALL_START:SPEED".
    clock: str = ""

    @field_validator("clock")
    @classmethod
    def _clock(cls, value: str) -> str:
        return validate_clock(value)

    @field_validator("gateway_id")
    @classmethod
    def _gateway_id(cls, value: str) -> str:
        if value and not GATEWAY_ID_RE.match(value):
            raise ValueError("use 2-63 characters of a-z, 0-9 and '-' (an opaque id)")
        return value

    def rules_config(self) -> RulesConfig:
        """The rule engine's config from these settings (until the fleet pushes one)."""
        bands = {b.mac: BandBinding(b.resident, b.flat) for b in self.bands}
        return RulesConfig.build(self.rules, self.residents, bands)
