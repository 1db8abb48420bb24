"""trust boundaries: dead letters with their gateway and cause, "gateway misbehaving"
notices, failed sign-ins, device ids as long as the contract's

Revision ID: 0005
Revises: 0004

Dead letters get the gateway whose topic they came on, a cause (fleet.ingest.refusals)
and a repeat count. ``gateway_notices`` tell staff once per gateway, cause and hour
that a gateway sent something refused. ``sign_in_failures`` counts failed password
sign-ins per account and per address, in the database so that every fleet instance
sees them. ``events.device`` and ``alerts.device`` grow to the contract's 64
characters (a meter id may be that long; PostgreSQL refused it before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.add_column(sa.Column("gateway", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("cause", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("times", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.add_column(sa.Column("last_received_at", _TS, nullable=True))
        batch_op.create_index(batch_op.f("ix_dead_letters_gateway"), ["gateway"])
    with op.batch_alter_table("dead_letters") as batch_op:
        # The default was only for existing rows; the fleet always writes the value.
        batch_op.alter_column("times", server_default=None)
    with op.batch_alter_table("events") as batch_op:
        batch_op.alter_column(
            "device", type_=sa.String(length=64), existing_type=sa.String(length=40)
        )
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.alter_column(
            "device", type_=sa.String(length=64), existing_type=sa.String(length=40)
        )
    op.create_table(
        "gateway_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("gateway_id", sa.String(length=63), nullable=False),
        sa.Column("cause", sa.String(length=40), nullable=False),
        sa.Column("hour", _TS, nullable=False),
        sa.Column("first_at", _TS, nullable=False),
        sa.Column("last_at", _TS, nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_notices")),
        sa.UniqueConstraint("gateway_id", "cause", "hour", name="uq_gateway_notices_hour"),
    )
    op.create_index(
        op.f("ix_gateway_notices_gateway_id"), "gateway_notices", ["gateway_id"], unique=False
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    for column in ("at", "username", "address"):
        op.create_index(
            op.f(f"ix_sign_in_failures_{column}"), "sign_in_failures", [column], unique=False
        )


def downgrade() -> None:
    for column in ("at", "username", "address"):
        op.drop_index(op.f(f"ix_sign_in_failures_{column}"), table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index(op.f("ix_gateway_notices_gateway_id"), table_name="gateway_notices")
    op.drop_table("gateway_notices")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.alter_column(
            "device", type_=sa.String(length=40), existing_type=sa.String(length=64)
        )
    with op.batch_alter_table("events") as batch_op:
        batch_op.alter_column(
            "device", type_=sa.String(length=40), existing_type=sa.String(length=64)
        )
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_gateway"))
        batch_op.drop_column("last_received_at")
        batch_op.drop_column("times")
        batch_op.drop_column("cause")
        batch_op.drop_column("gateway")
