"""The fleet's settings: one class, built once at start-up, passed down."""

from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.clock import validate_clock
from fleet.ingest.source import Partition
from fleet.notify.channel_policy import DEFAULT_CHANNEL_SCHEMES


class FleetMqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str = "fleet"
    password: SecretStr = SecretStr("")
    ca_file: Path | None = None
    # Consumers in one group share the gateways' messages (MQTT 5 shared subscription),
    # so any number of fleet instances can run side by side.
    share_group: str = "fleet"
    # The MQTT client id, pinned to this account in the broker (dynamic security's
    # clientid): another client using it is refused instead of taking over the session.
    # Default: "fleet-" + 16 hex digits derived from secret_key and the host name, so
    # nobody without the key can guess it. Each fleet instance needs its own account
    # and id (the plugin pins one client id per account; docs/security.md).
    client_id: str = Field("", pattern=r"^[A-Za-z0-9_.:-]{0,64}$")
    # How long the broker keeps this instance's session — its subscriptions, and the
    # messages sent to it but not acknowledged or not yet sent — after it disconnects.
    # Mosquitto 2.0 goes on giving a disconnected member of a shared subscription its
    # turn, queued in its session, and never hands that queue to the other members: a
    # restarted instance gets all of it back, one that stays down loses its queue when
    # the session expires. So: as long as a restart can take (systemd restarts in
    # seconds); shorter loses a killed instance's share sooner, longer makes it wait.
    # (EMQX can hand a gone member's messages to the others: docs/scaling.md.)
    session_expiry_s: int = Field(3600, ge=0, le=7 * 86400)
    # With several fleet instances: "i/N" — this instance keeps the telemetry of 1/N of
    # the devices (see fleet/ingest/source.py). "0/1" for a single instance.
    telemetry_partition: str = "0/1"

    @field_validator("telemetry_partition")
    @classmethod
    def _partition(cls, value: str) -> str:
        Partition.parse(value)
        return value


class InfluxSettings(BaseModel):
    url: str = "http://127.0.0.1:8086"
    # Used inside InfluxQL statements, so a plain identifier only.
    database: str = Field("silverguard", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    username: str = ""
    password: SecretStr = SecretStr("")
    # InfluxData recommends batches of about 5,000 lines.
    batch_lines: int = Field(5000, ge=1, le=50000)
    flush_interval_s: float = Field(1.0, gt=0)
    # Write as soon as this many MQTT messages wait for their lines to be stored: the
    # ingest acknowledges a telemetry message only then, and the broker sends a client
    # only so many unacknowledged messages at once (Mosquitto: max_inflight_messages).
    flush_after_messages: int = Field(50, ge=1, le=65535)
    # Lines kept in memory between flushes; past this the oldest are dropped and counted.
    buffer_lines: int = Field(500_000, ge=1000)
    # Lines InfluxDB did not take are spilled to data_dir/influx-spill.db (fsynced) and
    # written back when it answers again, across fleet restarts. Past this size the
    # oldest are dropped and counted (fleet/timeseries/spill.py).
    spill_max_mb: float = Field(1024.0, gt=0)
    # Retention (fleet/timeseries/retention.py, docs/timeseries.md), in days; 0 keeps
    # for ever. Raw points for a month; 1-minute aggregates a year; 1-hour aggregates for
    # ever. Health data is kept no longer than needed: shorten these where the site's
    # rules say so.
    raw_retention_days: int = Field(30, ge=0, le=36500)
    minute_retention_days: int = Field(365, ge=0, le=36500)
    hourly_retention_days: int = Field(0, ge=0, le=36500)
    # Telemetry arriving up to this many minutes late is still folded into the minute
    # aggregates (each run of the continuous query looks this far back; the cost of a
    # run grows with it).
    minute_resample_min: int = Field(5, ge=1, le=120)


class IngestSettings(BaseModel):
    """What the fleet takes from a gateway (fleet/ingest/trust.py, docs/security.md)."""

    # A gateway's clock may be this far ahead of the fleet's before its messages are
    # refused (an unsynced clock a little fast is tolerated; far-future times are not).
    max_future_s: float = Field(300.0, ge=0, le=86400)
    # Events older than this are refused: gateways keep undelivered events until they
    # are acknowledged, so this is long — a month offline is a broken clock.
    event_max_age_h: float = Field(720.0, gt=0)
    # Telemetry older than this is refused: a gateway drops telemetry older than its
    # outbox's max_telemetry_age_h (168 h by default); a day of margin.
    telemetry_max_age_h: float = Field(192.0, gt=0)
    # An event whose id is stored already but whose occurred_at differs by more than
    # this is another incident, not a copy (fleet/alerts/service.py).
    event_id_tolerance_s: float = Field(600.0, gt=0)
    # How long the coverage snapshot that telemetry is judged by is reused.
    coverage_ttl_s: float = Field(10.0, gt=0, le=3600)
    # Refused messages parked per gateway per minute; beyond, they are only counted.
    dead_letter_budget_per_minute: int = Field(120, ge=1)


class ProvisioningSettings(BaseModel):
    """How gateways are enrolled: broker address handed out, CA, dynamic-security admin."""

    # The broker address gateways use (may differ from the fleet's own connection, e.g.
    # a public name or a TLS port); default: the fleet's mqtt host and port.
    broker_host: str = ""
    broker_port: int | None = Field(None, ge=1, le=65535)
    # Whether gateways must use TLS; default: yes when a CA file is configured.
    broker_tls: bool | None = None
    # The broker's CA certificate (PEM), handed to gateways at enrollment; empty when
    # the broker has no TLS (a test or a closed network).
    ca_file: Path | None = None
    # A client of Mosquitto's dynamic-security plugin allowed to publish to
    # $CONTROL/dynamic-security/v1; the fleet creates and disables gateways' clients.
    dynsec_username: str = ""
    dynsec_password: SecretStr = SecretStr("")
    # Default lifetime of a one-time enrollment token.
    enrollment_ttl_h: float = Field(72.0, gt=0, le=24 * 30)
    # How long a broker command may take before enrollment gives up (HTTP 503).
    broker_timeout_s: float = Field(10.0, gt=0, le=120)


class FleetSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SG_FLEET_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path("/var/lib/silverguard/fleet")
    # SQLAlchemy URL; default: SQLite in data_dir. PostgreSQL: postgresql+psycopg://...
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # Where caregivers' acknowledge links point (the console's public address).
    public_url: str = ""
    # How often each fleet process writes its own figures (the ``fleet`` measurement:
    # ingest rate, lag, dead letters, InfluxDB errors) for the operations dashboard.
    metrics_interval_s: float = Field(10.0, gt=0, le=3600)
    mqtt: FleetMqttSettings = FleetMqttSettings()
    influx: InfluxSettings = InfluxSettings()
    provisioning: ProvisioningSettings = ProvisioningSettings()
    ingest: IngestSettings = IngestSettings()
    # Key that encrypts wristband bind keys at rest (32 bytes, base64). Default: made
    # once and kept in data_dir/secret.key (mode 0600). Fleet instances that share one
    # database must share this key: set it here or point secret_key_file at one copy.
    secret_key: SecretStr = SecretStr("")
    secret_key_file: Path | None = None
    # Lifetime of a bearer token issued by a password sign-in.
    session_ttl_h: float = Field(12.0, gt=0, le=24 * 90)
    # Notification retries: attempts per delivery, first retry delay (doubles each time).
    notify_attempts: int = Field(5, ge=1, le=50)
    notify_retry_s: float = Field(5.0, gt=0)
    # A gateway offline this long raises "residents unprotected" for its communities.
    gateway_offline_alert_s: float = Field(300.0, gt=0)
    # How long a one-click acknowledge link in a message works.
    ack_link_ttl_h: float = Field(24.0, gt=0, le=24 * 14)
    # Local time (China Standard Time) at which each contact's daily digest of
    # low-priority notices (battery, band not worn ...) goes out.
    digest_time: time = time(9, 0)
    # How often each instance looks for due escalation steps (also woken early when
    # the next one is due sooner).
    escalation_poll_s: float = Field(1.0, gt=0, le=60)
    # How long the battery figures (computed from a week of InfluxDB history) are
    # reused before they are computed again; batteries change over hours, not seconds.
    battery_cache_s: float = Field(60.0, ge=0, le=3600)
    # Contact channels (apprise URLs) staff may set: these schemes only. A scheme whose
    # URL names a host (json, form, ntfy, gotify, bark ...) must also resolve to public
    # addresses only, unless the host is in channel_allow_hosts
    # (fleet/notify/channel_policy.py).
    channel_schemes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CHANNEL_SCHEMES), max_length=200
    )
    # Hosts ("name" or "name:port") a channel may reach although they resolve to a
    # loopback, private or link-local address (an SMS gateway inside the network).
    channel_allow_hosts: list[str] = Field(default_factory=list, max_length=200)
    # Failed password sign-ins allowed in sign_in_window_s, per account and per address,
    # before sign-in answers 429 (counted in the database: every instance sees them).
    sign_in_window_s: float = Field(900.0, gt=0)
    sign_in_failures_per_account: int = Field(5, ge=1)
    sign_in_failures_per_address: int = Field(30, ge=1)
    # Largest request body the API reads; the wristband CSV import has its own limit.
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    # Deepest nesting a JSON request body may have (no request needs more than a few).
    max_json_depth: int = Field(32, ge=4, le=1000)
    log_level: str = "INFO"
    # Product time (contract/clock.py): empty is real time; the district simulation
    # gives every process the same "scaled:START:WALL_START:SPEED".
    clock: str = ""
    # The district's local time zone (IANA): "today" for SLA figures and digests, the
    # times in messages. The gateways have the same setting in their rules.
    timezone: str = "Asia/Shanghai"
    # The response promise staff are held to: time to acknowledge is measured against it.
    response_target_s: int = Field(900, ge=60, le=24 * 3600)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("clock")
    @classmethod
    def _clock(cls, value: str) -> str:
        return validate_clock(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'registry.db'}"

    @property
    def resolved_secret_key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
