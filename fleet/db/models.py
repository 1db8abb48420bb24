"""The registry's tables (SQLAlchemy 2). Schema changes go through Alembic migrations.

Personal data (names, addresses, phone numbers, channel URLs) lives only here, never
on the broker or in logs; everything else refers to people by opaque ids.
"""

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the registry; use UTC-aware times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Town(Base):
    """A town or sub-district: the unit a health center serves."""

    __tablename__ = "towns"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # opaque, e.g. t-huayuan
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class Community(Base):
    """A village or residential community inside a town."""

    __tablename__ = "communities"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    town_id: Mapped[str] = mapped_column(ForeignKey("towns.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]
    # The community health center's duty line: the contact an escalation reaches last.
    duty_contact_id: Mapped[str | None] = mapped_column(ForeignKey("caregivers.id"))


class Grid(Base):
    """A grid inside a community, looked after by one grid worker."""

    __tablename__ = "grids"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    worker_id: Mapped[str | None] = mapped_column(ForeignKey("caregivers.id"), index=True)
    created_at: Mapped[datetime]


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # opaque, e.g. r-000123
    display_name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(300), default="")
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"), index=True)
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id"), index=True)
    lives_alone: Mapped[bool] = mapped_column(default=True)
    health_notes: Mapped[str] = mapped_column(Text, default="")
    # Opaque id of the flat, linking the resident's band to the flat's meters.
    flat: Mapped[str | None] = mapped_column(String(40))
    # For whoever is sent to the door (the grid worker's phone page): a number to call,
    # and who holds a key to the flat.
    phone: Mapped[str | None] = mapped_column(String(32))
    key_holder: Mapped[str | None] = mapped_column(String(300))
    key_holder_phone: Mapped[str | None] = mapped_column(String(32))
    # For the risk tags (fleet/risk): the year of birth, and the conditions the health
    # center noted (words such as "dementia", "hypertension"). Health data: stays here.
    birth_year: Mapped[int | None] = mapped_column(Integer)
    conditions: Mapped[list[str] | None] = mapped_column(JSON)
    # The care plan (contract.careplan.CarePlan as JSON): fed to the gateways' rules.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Dose id -> what to take. Health data: stays here, never sent to a gateway.
    medication_labels: Mapped[dict[str, str] | None] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]

    caregivers: Mapped[list["CareLink"]] = relationship(
        back_populates="resident", order_by="CareLink.priority"
    )


class Caregiver(Base):
    """A family member, neighbour or grid worker who is called when something happens."""

    __tablename__ = "caregivers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # opaque, e.g. c-000045
    display_name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), default="family")  # family | grid_worker
    locale: Mapped[str] = mapped_column(String(10), default="zh-CN")  # zh-CN | en
    # apprise URL(s), one per line: sms, push, WeCom, DingTalk, e-mail, webhook ...
    # Secrets (they embed tokens and numbers): never logged, never returned by the API.
    channels: Mapped[str] = mapped_column(Text, default="")
    # A phone number for the gateway's own SMS when its uplink is down (sealed in config).
    phone: Mapped[str | None] = mapped_column(String(32))
    # The town that registered them (health-center staff see their own town's).
    town_id: Mapped[str | None] = mapped_column(ForeignKey("towns.id"), index=True)
    created_at: Mapped[datetime]


class CareLink(Base):
    """Who cares for whom, and in which order they are called."""

    __tablename__ = "care_links"

    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), primary_key=True)
    caregiver_id: Mapped[str] = mapped_column(ForeignKey("caregivers.id"), primary_key=True)
    priority: Mapped[int] = mapped_column(Integer, default=1)

    resident: Mapped[Resident] = relationship(back_populates="caregivers")
    caregiver: Mapped[Caregiver] = relationship()


class Wristband(Base):
    __tablename__ = "wristbands"

    mac: Mapped[str] = mapped_column(String(17), primary_key=True)
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"), index=True)
    # Where the band is: its resident's community, or the stock of one before assignment.
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"), index=True)
    # The BTHome bind key, encrypted at rest (fleet.registry.vault); never returned.
    bind_key: Mapped[str] = mapped_column(String(120))
    firmware: Mapped[str] = mapped_column(String(40), default="")
    # The accelerometer's rate of this band model (None: 40 Hz or more); the gateways'
    # fall rule judges a slower band's impacts by it.
    sample_rate_hz: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(20), default="active")  # active | retired
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class Gateway(Base):
    """A community gateway: where it stands, what it covers, its identity and config."""

    __tablename__ = "gateways"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)  # opaque, e.g. gw-0001
    location: Mapped[str] = mapped_column(String(300), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(12), default="created")  # created|enrolled|revoked
    # One-time enrollment token: only its SHA-256 is kept, cleared when used.
    enrollment_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrollment_expires_at: Mapped[datetime | None]
    mqtt_username: Mapped[str | None] = mapped_column(String(80))
    public_key: Mapped[str | None] = mapped_column(String(64))  # Curve25519, base64
    enrolled_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # False while a revocation still has to reach the broker (retried in the background).
    broker_synced: Mapped[bool] = mapped_column(default=True)
    # Gateway-wide rule thresholds (GatewayConfig.rules); the gateway validates them.
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Desired config version (bumped by every change that affects this gateway), the
    # version last published retained, and what the gateway reports running.
    desired_version: Mapped[int] = mapped_column(Integer, default=0)
    published_version: Mapped[int] = mapped_column(Integer, default=0)
    reported_version: Mapped[int | None] = mapped_column(Integer)
    reported_ok: Mapped[bool | None]
    reported_error: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None]
    # The parts of the running config the gateway could not apply (contract SetAside).
    reported_set_aside: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]

    communities: Mapped[list["GatewayCommunity"]] = relationship(
        cascade="all, delete-orphan", order_by="GatewayCommunity.community_id"
    )


class Meter(Base):
    """A water or electricity meter in a flat, wired to one gateway's serial bus."""

    __tablename__ = "meters"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)  # opaque, e.g. m-0001-e
    flat: Mapped[str] = mapped_column(String(40), index=True)
    # The flat's community: staff of its town manage the meter; gateways covering it
    # may report for it.
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), index=True)
    # The declaration the gateway gets (contract.meters.MeterConfig as JSON).
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]


class GatewayCommunity(Base):
    """The communities a gateway covers: their residents' bands go into its config."""

    __tablename__ = "gateway_communities"

    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), primary_key=True)
    community_id: Mapped[str] = mapped_column(
        ForeignKey("communities.id"), primary_key=True, index=True
    )


class User(Base):
    """Someone who signs in to the API: admin, health-center staff or caregiver.

    A caregiver's user id is their caregiver id, so "their residents" is a join on
    care_links. Staff belong to one town and see only it.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))  # admin | staff | caregiver
    display_name: Mapped[str] = mapped_column(String(120), default="")
    town_id: Mapped[str | None] = mapped_column(ForeignKey("towns.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id; None: tokens only
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class EventRecord(Base):
    """Every distinct event id ever received; the primary key is the dedup."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    # As long as the contract's device ids (a meter id may be 64 characters).
    device: Mapped[str] = mapped_column(String(64), index=True)
    gateway: Mapped[str] = mapped_column(String(63))
    occurred_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    received_at: Mapped[datetime]
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notified_locally: Mapped[bool] = mapped_column(default=False)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    # What the event did: opened | folded | follow_up | digest | recorded (fleet.alerts.incidents)
    disposition: Mapped[str | None] = mapped_column(String(12))


# An incident is open until it is resolved; at most one open alert per incident key.
OPEN_INCIDENT = text("resolved_at IS NULL")


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_incident",
            "incident_key",
            unique=True,
            sqlite_where=OPEN_INCIDENT,
            postgresql_where=OPEN_INCIDENT,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The event that opened it; unique, so a redelivered event cannot open a second alert.
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    device: Mapped[str] = mapped_column(String(64))
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"), index=True)
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"), index=True)
    # "<resident or device>:<incident class>": later events of the same incident fold in.
    incident_key: Mapped[str | None] = mapped_column(String(80))
    incident: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)
    opened_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    # The escalation policy in force when the alert opened (fleet.alerts.policy), so a
    # change of policy does not reshuffle the steps of an alert already escalating.
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    escalation_round: Mapped[int | None] = mapped_column(Integer)
    escalation_step: Mapped[int | None] = mapped_column(Integer)
    activity_resumed_at: Mapped[datetime | None]


class EscalationPolicyRow(Base):
    """A community's own escalation policy; communities without one use the default."""

    __tablename__ = "escalation_policies"

    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    repeat_every_s: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(80))


class EscalationTimer(Base):
    """One escalation step of one alert, due at a time: fired once by any fleet instance.

    Claimed under ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and switched from pending to
    fired by a compare-and-set in the same transaction that creates the step's
    deliveries, so a step fires exactly once whichever instance gets there.
    """

    __tablename__ = "escalation_timers"
    __table_args__ = (
        UniqueConstraint("alert_id", "round", "step", name="uq_escalation_timers_step"),
        Index("ix_escalation_timers_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|fired|cancelled
    fired_at: Mapped[datetime | None]
    fired_by: Mapped[str | None] = mapped_column(String(60))
    errors: Mapped[int] = mapped_column(Integer, default=0)


class Digest(Base):
    """One day's digest of low-priority events for one contact (made once: unique)."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("caregiver_id", "day", name="uq_digests_caregiver_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    caregiver_id: Mapped[str] = mapped_column(ForeignKey("caregivers.id"))
    day: Mapped[str] = mapped_column(String(10))  # local date, YYYY-MM-DD
    items: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class DigestEntry(Base):
    """A low-priority event waiting for a contact's next digest."""

    __tablename__ = "digest_entries"
    __table_args__ = (
        UniqueConstraint("caregiver_id", "event_id", name="uq_digest_entries_caregiver_event"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    caregiver_id: Mapped[str] = mapped_column(ForeignKey("caregivers.id"), index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    created_at: Mapped[datetime]
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id"), index=True)


class Delivery(Base):
    """One message to one contact over one channel: a job and its history.

    Pending rows are claimed by whichever fleet instance gets there first, so any
    instance can send them and a restart loses none. One row per channel, so a
    failing channel is retried on its own without holding up the others.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "due_at"),
        UniqueConstraint(
            "alert_id", "round", "step", "caregiver_id", "channel_ref", name="uq_deliveries_step"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id"), index=True)
    caregiver_id: Mapped[str] = mapped_column(ForeignKey("caregivers.id"))
    # Which escalation step made it (alerts) — None for digests and older rows.
    round: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[int | None] = mapped_column(Integer)
    # The channel: a fingerprint of its apprise URL (the URL itself is a secret and
    # stays in caregivers.channels) and its scheme (sms, wecombot, ntfy ...) for people.
    channel_ref: Mapped[str | None] = mapped_column(String(16))
    channel_scheme: Mapped[str | None] = mapped_column(String(20))
    # The policy target that reached this contact (caregivers, grid_worker, duty_line ...).
    target: Mapped[str | None] = mapped_column(String(50))
    # pending | sent | failed (attempts used up) | cancelled (acknowledged before sending)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(60))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    latency_ms: Mapped[float | None] = mapped_column(Float)
    # A dispatch task's news (fleet.dispatch.store): the task and what the message says
    # (assigned | taken | moved). Such a delivery has no alert_id: it is not an offer,
    # and is sent even after the alert is acknowledged.
    task_id: Mapped[int | None] = mapped_column(ForeignKey("dispatch_tasks.id"), index=True)
    purpose: Mapped[str | None] = mapped_column(String(20))


class AlertLog(Base):
    """Every transition of an alert and every delivery attempt, with time and actor."""

    __tablename__ = "alert_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AckLinkUse(Base):
    """A one-click acknowledge link that has been used: each link works once."""

    __tablename__ = "ack_link_uses"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    caregiver_id: Mapped[str] = mapped_column(String(40))
    used_at: Mapped[datetime]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the token
    subject: Mapped[str] = mapped_column(String(80))  # user or caregiver id
    role: Mapped[str] = mapped_column(String(20))  # admin | staff | caregiver
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]  # tokens from a password sign-in expire


class AuditEntry(Base):
    """Every change through the API: who, what, when (no secrets in ``detail``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeadLetter(Base):
    """A message the fleet refused: parked for inspection, never lost, never fatal.

    The same payload on the same topic (a redelivery) is one row whose ``times`` grows.
    ``gateway`` is the topic's gateway (the broker's ACL ties it to the sender), ``cause``
    one of fleet.ingest.refusals.Cause.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("topic", "payload_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(200))
    payload: Mapped[bytes]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    gateway: Mapped[str | None] = mapped_column(String(63), index=True)
    cause: Mapped[str | None] = mapped_column(String(40))
    times: Mapped[int] = mapped_column(Integer, default=1)
    last_received_at: Mapped[datetime | None]


class GatewayNotice(Base):
    """ "Gateway misbehaving": staff are told once per gateway, cause and hour.

    The unique (gateway, cause, hour) row is the once-only, across fleet instances;
    later refusals in the hour only raise ``refusals`` and ``last_at``.
    """

    __tablename__ = "gateway_notices"
    __table_args__ = (
        UniqueConstraint("gateway_id", "cause", "hour", name="uq_gateway_notices_hour"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gateway_id: Mapped[str] = mapped_column(String(63), index=True)
    cause: Mapped[str] = mapped_column(String(40))
    hour: Mapped[datetime]  # the hour it belongs to (UTC, minutes and seconds zero)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    refusals: Mapped[int] = mapped_column(Integer, default=1)
    message: Mapped[str] = mapped_column(Text)


class SignInFailure(Base):
    """A failed password sign-in: counted per account and per address to slow guessing.

    Kept in the database, not in memory, so several fleet instances behind one address
    count together; rows older than the window are deleted as new ones arrive.
    """

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)


class DispatchTask(Base):
    """A critical alert as a work order for one person (fleet.dispatch.tasks: the states).

    One per alert. ``owner_id`` is the contact who holds it; from acceptance until it
    closes there always is one.
    """

    __tablename__ = "dispatch_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), unique=True)
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"), index=True)
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # the alert's kind: fall, sos ...
    state: Mapped[str] = mapped_column(String(12), index=True)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("caregivers.id"), index=True)
    declined: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    on_the_way_at: Mapped[datetime | None]
    on_site_at: Mapped[datetime | None]
    on_site_latitude: Mapped[float | None] = mapped_column(Float)
    on_site_longitude: Mapped[float | None] = mapped_column(Float)
    outcome_at: Mapped[datetime | None]
    found: Mapped[str | None] = mapped_column(String(20))  # fleet.dispatch.tasks.Found
    done: Mapped[list[str] | None] = mapped_column(JSON)  # fleet.dispatch.tasks.Done
    outcome_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(40))


class TaskLinkUse(Base):
    """A task link (check-in, outcome, "I can't go") that has been used: each works once."""

    __tablename__ = "task_link_uses"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256
    task_id: Mapped[int] = mapped_column(ForeignKey("dispatch_tasks.id"), index=True)
    caregiver_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(10))
    used_at: Mapped[datetime]


class RiskTagRow(Base):
    """One risk tag holding for one resident over a span of local days (fleet/risk).

    ``since`` is the first day it held, ``until`` the first day it no longer did (None:
    it still holds). Evidence is kept in both languages as computed on its last day.
    """

    __tablename__ = "risk_tags"
    __table_args__ = (Index("ix_risk_tags_resident_until", "resident_id", "until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"))
    tag: Mapped[str] = mapped_column(String(40))
    since: Mapped[str] = mapped_column(String(10))  # local date, YYYY-MM-DD
    until: Mapped[str | None] = mapped_column(String(10))
    value: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"zh-CN", "en"}
    evaluated_on: Mapped[str] = mapped_column(String(10))


class RiskReport(Base):
    """A report from outside the system about a resident: a grid worker's round, the
    hotline, a neighbour through the community office. Imported by API or CSV with the
    name of its source."""

    __tablename__ = "risk_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    source: Mapped[str] = mapped_column(String(60))
    reported_at: Mapped[datetime]
    concern: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime]
    imported_by: Mapped[str] = mapped_column(String(80))


class RiskVisit(Base):
    """A visit made from the risk board's list: who went, when, what they found."""

    __tablename__ = "risk_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    visitor_id: Mapped[str | None] = mapped_column(ForeignKey("caregivers.id"))
    visited_at: Mapped[datetime]
    found: Mapped[str] = mapped_column(String(20))  # well | concern | not_at_home
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(80))


class CareTask(Base):
    """Work that outcomes ask for, not tied to one alert: "check band fit and settings"
    after repeated false alarms (fleet.dispatch.feedback). Open until someone marks it
    done."""

    __tablename__ = "care_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # check_band
    reason: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("caregivers.id"))
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(80))
