"""alerting: incidents, escalation policies and timers, per-channel deliveries, digests

Revision ID: 0003
Revises: 0002

Alerts get an incident key with a partial unique index over open (unresolved) alerts,
so follow-up events fold into the open alert by a database constraint. Deliveries
become one row per contact and channel. Existing delivery rows keep working: a row
without a channel fingerprint is sent to all of its contact's channels.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_OPEN = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch_op:
        batch_op.add_column(sa.Column("duty_contact_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_communities_duty_contact_id_caregivers"),
            "caregivers",
            ["duty_contact_id"],
            ["id"],
        )
    with op.batch_alter_table("events") as batch_op:
        batch_op.add_column(sa.Column("disposition", sa.String(length=12), nullable=True))
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(sa.Column("community_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("incident_key", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("incident", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("policy", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("escalation_round", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("escalation_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("activity_resumed_at", _TS, nullable=True))
        batch_op.create_index(batch_op.f("ix_alerts_community_id"), ["community_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_community_id_communities"),
            "communities",
            ["community_id"],
            ["id"],
        )
    # Existing alerts: their community (for staff scope and SLA figures) and their
    # incident class. They get no incident key: an alert opened before this version
    # is not folded into; new events open new alerts.
    op.execute(
        "UPDATE alerts SET community_id = "
        "(SELECT community_id FROM residents WHERE residents.id = alerts.resident_id)"
    )
    op.execute(
        "UPDATE alerts SET incident = CASE "
        "WHEN kind IN ('sos', 'fall') THEN 'emergency' "
        "WHEN kind IN ('inactivity', 'no_water', 'no_power_use') THEN 'inactivity' "
        "WHEN kind = 'missed_dose' THEN 'medication' "
        "WHEN kind = 'water_running' THEN 'water' "
        "ELSE 'device' END"
    )
    op.create_index(
        "uq_alerts_open_incident",
        "alerts",
        ["incident_key"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_table(
        "escalation_policies",
        sa.Column("community_id", sa.String(length=40), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("repeat_every_s", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_escalation_policies_community_id_communities"),
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_escalation_policies")),
    )
    op.create_table(
        "escalation_timers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("fired_at", _TS, nullable=True),
        sa.Column("fired_by", sa.String(length=60), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_escalation_timers_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_timers")),
        sa.UniqueConstraint("alert_id", "round", "step", name="uq_escalation_timers_step"),
    )
    op.create_index(
        op.f("ix_escalation_timers_alert_id"), "escalation_timers", ["alert_id"], unique=False
    )
    op.create_index("ix_escalation_timers_due", "escalation_timers", ["status", "due_at"])
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("caregiver_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["caregiver_id"], ["caregivers.id"], name=op.f("fk_digests_caregiver_id_caregivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("caregiver_id", "day", name="uq_digests_caregiver_day"),
    )
    op.create_table(
        "digest_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("caregiver_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["caregiver_id"],
            ["caregivers.id"],
            name=op.f("fk_digest_entries_caregiver_id_caregivers"),
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"], ["digests.id"], name=op.f("fk_digest_entries_digest_id_digests")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_digest_entries_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_entries")),
        sa.UniqueConstraint("caregiver_id", "event_id", name="uq_digest_entries_caregiver_event"),
    )
    op.create_index(
        op.f("ix_digest_entries_caregiver_id"), "digest_entries", ["caregiver_id"], unique=False
    )
    op.create_index(
        op.f("ix_digest_entries_digest_id"), "digest_entries", ["digest_id"], unique=False
    )
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("channel_ref", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("channel_scheme", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("target", sa.String(length=50), nullable=True))
        batch_op.create_index(batch_op.f("ix_deliveries_digest_id"), ["digest_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_digest_id_digests"), "digests", ["digest_id"], ["id"]
        )
        batch_op.create_unique_constraint(
            "uq_deliveries_step", ["alert_id", "round", "step", "caregiver_id", "channel_ref"]
        )
    op.create_table(
        "ack_link_uses",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.String(length=40), nullable=False),
        sa.Column("used_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_ack_link_uses_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_ack_link_uses")),
    )
    op.create_index(
        op.f("ix_ack_link_uses_alert_id"), "ack_link_uses", ["alert_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ack_link_uses_alert_id"), table_name="ack_link_uses")
    op.drop_table("ack_link_uses")
    op.execute("DELETE FROM deliveries WHERE alert_id IS NULL")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_constraint("uq_deliveries_step", type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_deliveries_digest_id_digests"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_deliveries_digest_id"))
        for column in ("target", "channel_scheme", "channel_ref", "step", "round", "digest_id"):
            batch_op.drop_column(column)
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_digest_entries_digest_id"), table_name="digest_entries")
    op.drop_index(op.f("ix_digest_entries_caregiver_id"), table_name="digest_entries")
    op.drop_table("digest_entries")
    op.drop_table("digests")
    op.drop_index("ix_escalation_timers_due", table_name="escalation_timers")
    op.drop_index(op.f("ix_escalation_timers_alert_id"), table_name="escalation_timers")
    op.drop_table("escalation_timers")
    op.drop_table("escalation_policies")
    op.drop_index("uq_alerts_open_incident", table_name="alerts")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_alerts_community_id_communities"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_alerts_community_id"))
        for column in (
            "activity_resumed_at",
            "escalation_step",
            "escalation_round",
            "policy",
            "resolved_by",
            "incident",
            "incident_key",
            "community_id",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("disposition")
    with op.batch_alter_table("communities") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_communities_duty_contact_id_caregivers"), type_="foreignkey"
        )
        batch_op.drop_column("duty_contact_id")
