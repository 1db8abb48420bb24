"""the closed contract: care plans in seconds with labels apart, meters per flat,
the parts a gateway set aside, a band's sample rate

Revision ID: 0004
Revises: 0003

Care plans (``residents.settings``) now hold exactly the contract's ``CarePlan``:
``inactivity_minutes`` becomes ``inactivity_s`` and the medication labels (health data
the gateways never get) move to ``residents.medication_labels``. Meters are registered
in the fleet, one row per meter with the gateway and port it is wired to. Gateways
report the parts of a config they set aside (``gateways.reported_set_aside``).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def _plan_and_labels(stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    plan = dict(stored)
    minutes = plan.pop("inactivity_minutes", None)
    if minutes is not None:
        plan["inactivity_s"] = int(minutes) * 60
    labels: dict[str, str] = {}
    doses = []
    for dose in plan.get("medication", []):
        dose = dict(dose)
        label = dose.pop("label", "")
        if label:
            labels[str(dose.get("id"))] = label
        doses.append(dose)
    if doses:
        plan["medication"] = doses
    return plan, labels


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch_op:
        batch_op.add_column(sa.Column("medication_labels", sa.JSON(), nullable=True))
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.add_column(sa.Column("reported_set_aside", sa.JSON(), nullable=True))
    with op.batch_alter_table("wristbands") as batch_op:
        batch_op.add_column(sa.Column("sample_rate_hz", sa.Float(), nullable=True))
    residents = sa.table(
        "residents",
        sa.column("id", sa.String),
        sa.column("settings", sa.JSON),
        sa.column("medication_labels", sa.JSON),
    )
    conn = op.get_bind()
    for row in conn.execute(sa.select(residents.c.id, residents.c.settings)).all():
        plan, labels = _plan_and_labels(row.settings or {})
        conn.execute(
            residents.update()
            .where(residents.c.id == row.id)
            .values(settings=plan, medication_labels=labels)
        )
    op.create_table(
        "meters",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("flat", sa.String(length=40), nullable=False),
        sa.Column("community_id", sa.String(length=40), nullable=False),
        sa.Column("gateway_id", sa.String(length=63), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_meters_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_meters_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meters")),
    )
    op.create_index(op.f("ix_meters_flat"), "meters", ["flat"])
    op.create_index(op.f("ix_meters_gateway_id"), "meters", ["gateway_id"])
    op.create_index(op.f("ix_meters_community_id"), "meters", ["community_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_meters_community_id"), table_name="meters")
    op.drop_index(op.f("ix_meters_gateway_id"), table_name="meters")
    op.drop_index(op.f("ix_meters_flat"), table_name="meters")
    op.drop_table("meters")
    with op.batch_alter_table("wristbands") as batch_op:
        batch_op.drop_column("sample_rate_hz")
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.drop_column("reported_set_aside")
    with op.batch_alter_table("residents") as batch_op:
        batch_op.drop_column("medication_labels")
