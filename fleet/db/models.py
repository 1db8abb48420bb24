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


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # opaque, e.g. r-000123
    display_name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(300), default="")
    community: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime]

    caregivers: Mapped[list["CareLink"]] = relationship(back_populates="resident")


class Caregiver(Base):
    __tablename__ = "caregivers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # opaque, e.g. c-000045
    display_name: Mapped[str] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(10), default="zh-CN")  # zh-CN | en
    # apprise URL(s), one per line: sms, push, WeCom, DingTalk, e-mail, webhook ...
    channels: Mapped[str] = mapped_column(Text, default="")
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
    bind_key: Mapped[str] = mapped_column(String(32))  # never returned by the API
    state: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime]


class EventRecord(Base):
    """Every distinct event id ever received; the primary key is the dedup."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    device: Mapped[str] = mapped_column(String(40), index=True)
    gateway: Mapped[str] = mapped_column(String(63))
    occurred_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    received_at: Mapped[datetime]
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notified_locally: Mapped[bool] = mapped_column(default=False)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The event that opened it; unique, so a redelivered event cannot open a second alert.
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    device: Mapped[str] = mapped_column(String(40))
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)
    opened_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """One notification to one caregiver over their channels: a job and its history.

    Pending rows are claimed by whichever fleet instance gets there first, so any
    instance can send them and a restart loses none.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    caregiver_id: Mapped[str] = mapped_column(ForeignKey("caregivers.id"))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(60))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    latency_ms: Mapped[float | None] = mapped_column(Float)


class AlertLog(Base):
    """Every transition of an alert and every delivery attempt, with time and actor."""

    __tablename__ = "alert_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the token
    subject: Mapped[str] = mapped_column(String(80))  # user or caregiver id
    role: Mapped[str] = mapped_column(String(20))  # admin | staff | caregiver
    created_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeadLetter(Base):
    """A message that failed validation: parked for inspection, never lost, never fatal."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("topic", "payload_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(200))
    payload: Mapped[bytes]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
