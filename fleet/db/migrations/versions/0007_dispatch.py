"""dispatch and risk: critical alerts as work orders, their single-use links; risk tags,
outside reports and visits

Revision ID: 0007
Revises: 0005

``dispatch_tasks`` holds one task per critical alert: its state (fleet.dispatch.tasks),
its owner, who declined, the moments it was accepted, set off, checked in on site
(with an optional location), given an outcome and closed, and the outcome itself.
``task_link_uses`` makes each check-in, outcome and "I can't go" link work once.
``residents`` gain a phone number and a key holder (with a number), for the person at
the door. ``risk_tags`` keeps each risk tag's span of days per resident (since, until) with its
evidence; ``risk_reports`` the reports from outside (grid worker, hotline) with their
source; ``risk_visits`` the visits made from the risk board. Residents also gain a
birth year and the conditions the health center noted. ``care_tasks`` holds work the
outcomes ask for ("check band fit and settings" after repeated false alarms). ``deliveries`` gain ``task_id`` and ``purpose`` for a task's news (assigned, taken, moved).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("key_holder", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("key_holder_phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("birth_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("conditions", sa.JSON(), nullable=True))
    op.create_table(
        "dispatch_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=40), nullable=True),
        sa.Column("community_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=True),
        sa.Column("declined", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("accepted_at", _TS, nullable=True),
        sa.Column("on_the_way_at", _TS, nullable=True),
        sa.Column("on_site_at", _TS, nullable=True),
        sa.Column("on_site_latitude", sa.Float(), nullable=True),
        sa.Column("on_site_longitude", sa.Float(), nullable=True),
        sa.Column("outcome_at", _TS, nullable=True),
        sa.Column("found", sa.String(length=20), nullable=True),
        sa.Column("done", sa.JSON(), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_dispatch_tasks_alert_id_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_dispatch_tasks_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_dispatch_tasks_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["caregivers.id"], name=op.f("fk_dispatch_tasks_owner_id_caregivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_tasks")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_dispatch_tasks_alert_id")),
    )
    for column in ("resident_id", "community_id", "state", "owner_id"):
        op.create_index(op.f(f"ix_dispatch_tasks_{column}"), "dispatch_tasks", [column])
    op.create_table(
        "task_link_uses",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("used_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["dispatch_tasks.id"], name=op.f("fk_task_link_uses_task_id_dispatch_tasks")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_task_link_uses")),
    )
    op.create_index(op.f("ix_task_link_uses_task_id"), "task_link_uses", ["task_id"])
    op.create_table(
        "risk_tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=40), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("since", sa.String(length=10), nullable=False),
        sa.Column("until", sa.String(length=10), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("evaluated_on", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_risk_tags_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_tags")),
    )
    op.create_index("ix_risk_tags_resident_until", "risk_tags", ["resident_id", "until"])
    op.create_table(
        "risk_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("reported_at", _TS, nullable=False),
        sa.Column("concern", sa.Text(), nullable=False),
        sa.Column("imported_at", _TS, nullable=False),
        sa.Column("imported_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_risk_reports_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_reports")),
    )
    op.create_index(op.f("ix_risk_reports_resident_id"), "risk_reports", ["resident_id"])
    op.create_table(
        "risk_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=40), nullable=False),
        sa.Column("visitor_id", sa.String(length=40), nullable=True),
        sa.Column("visited_at", _TS, nullable=False),
        sa.Column("found", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_risk_visits_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["caregivers.id"], name=op.f("fk_risk_visits_visitor_id_caregivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_visits")),
    )
    op.create_index(op.f("ix_risk_visits_resident_id"), "risk_visits", ["resident_id"])
    op.create_table(
        "care_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("assignee_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("done_at", _TS, nullable=True),
        sa.Column("done_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_care_tasks_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["caregivers.id"], name=op.f("fk_care_tasks_assignee_id_caregivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_tasks")),
    )
    op.create_index(op.f("ix_care_tasks_resident_id"), "care_tasks", ["resident_id"])
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("task_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("purpose", sa.String(length=20), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_task_id_dispatch_tasks"), "dispatch_tasks", ["task_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_deliveries_task_id"), ["task_id"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_task_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_task_id_dispatch_tasks"), type_="foreignkey"
        )
        batch_op.drop_column("purpose")
        batch_op.drop_column("task_id")
    op.drop_index(op.f("ix_care_tasks_resident_id"), table_name="care_tasks")
    op.drop_table("care_tasks")
    op.drop_index(op.f("ix_risk_visits_resident_id"), table_name="risk_visits")
    op.drop_table("risk_visits")
    op.drop_index(op.f("ix_risk_reports_resident_id"), table_name="risk_reports")
    op.drop_table("risk_reports")
    op.drop_index("ix_risk_tags_resident_until", table_name="risk_tags")
    op.drop_table("risk_tags")
    op.drop_index(op.f("ix_task_link_uses_task_id"), table_name="task_link_uses")
    op.drop_table("task_link_uses")
    for column in ("resident_id", "community_id", "state", "owner_id"):
        op.drop_index(op.f(f"ix_dispatch_tasks_{column}"), table_name="dispatch_tasks")
    op.drop_table("dispatch_tasks")
    with op.batch_alter_table("residents") as batch_op:
        batch_op.drop_column("conditions")
        batch_op.drop_column("birth_year")
        batch_op.drop_column("key_holder_phone")
        batch_op.drop_column("key_holder")
        batch_op.drop_column("phone")
