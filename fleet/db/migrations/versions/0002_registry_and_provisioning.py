"""registry and provisioning: towns, communities, grids, gateways, users

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 17:25:23.046321

Residents' free-text ``community`` becomes a reference to ``communities``; existing
values are kept as communities of a town named ``unassigned`` so that nothing is lost
and staff can move them to their real town afterwards. Existing bind keys stay
readable (the vault accepts legacy clear keys) and are encrypted at the fleet's next
start.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def _create_tables() -> None:
    op.create_table(
        "towns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_towns")),
    )
    op.create_table(
        "communities",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("town_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["town_id"], ["towns.id"], name=op.f("fk_communities_town_id_towns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
    )
    op.create_index(op.f("ix_communities_town_id"), "communities", ["town_id"])
    op.create_table(
        "grids",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("community_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("worker_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_grids_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["caregivers.id"], name=op.f("fk_grids_worker_id_caregivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
    )
    op.create_index(op.f("ix_grids_community_id"), "grids", ["community_id"])
    op.create_index(op.f("ix_grids_worker_id"), "grids", ["worker_id"])
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("enrollment_token_hash", sa.String(length=64), nullable=True),
        sa.Column("enrollment_expires_at", _TS, nullable=True),
        sa.Column("mqtt_username", sa.String(length=80), nullable=True),
        sa.Column("public_key", sa.String(length=64), nullable=True),
        sa.Column("enrolled_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("broker_synced", sa.Boolean(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("desired_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False),
        sa.Column("reported_version", sa.Integer(), nullable=True),
        sa.Column("reported_ok", sa.Boolean(), nullable=True),
        sa.Column("reported_error", sa.Text(), nullable=True),
        sa.Column("reported_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
        sa.UniqueConstraint(
            "enrollment_token_hash", name=op.f("uq_gateways_enrollment_token_hash")
        ),
    )
    op.create_table(
        "gateway_communities",
        sa.Column("gateway_id", sa.String(length=63), nullable=False),
        sa.Column("community_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_gateway_communities_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_gateway_communities_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "community_id", name=op.f("pk_gateway_communities")),
    )
    op.create_index(
        op.f("ix_gateway_communities_community_id"), "gateway_communities", ["community_id"]
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("town_id", sa.String(length=40), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["town_id"], ["towns.id"], name=op.f("fk_users_town_id_towns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_town_id"), "users", ["town_id"])


def _carry_over_communities() -> None:
    """Turn the residents' free-text communities into community rows."""
    conn = op.get_bind()
    names = [
        row[0]
        for row in conn.execute(
            sa.text("SELECT DISTINCT community FROM residents WHERE community <> ''")
        )
    ]
    if not names:
        return
    now = datetime.now(UTC)
    conn.execute(
        sa.text("INSERT INTO towns (id, name, created_at) VALUES ('unassigned', 'unassigned', :now)"),
        {"now": now},
    )
    for name in names:
        conn.execute(
            sa.text(
                "INSERT INTO communities (id, town_id, name, created_at) "
                "VALUES (:id, 'unassigned', :name, :now)"
            ),
            {"id": name[:40], "name": name[:120], "now": now},
        )
    conn.execute(sa.text("UPDATE residents SET community_id = substr(community, 1, 40)"))
    conn.execute(sa.text("UPDATE residents SET community_id = NULL WHERE community = ''"))


def upgrade() -> None:
    _create_tables()
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("expires_at", _TS, nullable=True))
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
    with op.batch_alter_table("caregivers") as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="family")
        )
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("town_id", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_caregivers_town_id"), ["town_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_caregivers_town_id_towns"), "towns", ["town_id"], ["id"]
        )
    with op.batch_alter_table("residents") as batch_op:
        batch_op.add_column(sa.Column("community_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("grid_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("lives_alone", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("health_notes", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("flat", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("settings", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("updated_at", _TS, nullable=True))
    _carry_over_communities()
    with op.batch_alter_table("residents") as batch_op:
        batch_op.create_index(batch_op.f("ix_residents_community_id"), ["community_id"])
        batch_op.create_index(batch_op.f("ix_residents_grid_id"), ["grid_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_residents_community_id_communities"),
            "communities",
            ["community_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_residents_grid_id_grids"), "grids", ["grid_id"], ["id"]
        )
        batch_op.drop_column("community")
    with op.batch_alter_table("wristbands") as batch_op:
        batch_op.add_column(sa.Column("community_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("firmware", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("updated_at", _TS, nullable=True))
        batch_op.add_column(sa.Column("retired_at", _TS, nullable=True))
        batch_op.alter_column(
            "bind_key",
            existing_type=sa.String(length=32),
            type_=sa.String(length=120),
            existing_nullable=False,
        )
        batch_op.create_index(batch_op.f("ix_wristbands_community_id"), ["community_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_wristbands_community_id_communities"),
            "communities",
            ["community_id"],
            ["id"],
        )
    op.execute(
        "UPDATE wristbands SET community_id = "
        "(SELECT community_id FROM residents WHERE residents.id = wristbands.resident_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("wristbands") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_wristbands_community_id_communities"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_wristbands_community_id"))
        batch_op.drop_column("retired_at")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("firmware")
        batch_op.drop_column("community_id")
    with op.batch_alter_table("residents") as batch_op:
        batch_op.add_column(
            sa.Column("community", sa.String(length=80), nullable=False, server_default="")
        )
    op.execute("UPDATE residents SET community = COALESCE(community_id, '')")
    with op.batch_alter_table("residents") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_residents_grid_id_grids"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_residents_community_id_communities"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_residents_grid_id"))
        batch_op.drop_index(batch_op.f("ix_residents_community_id"))
        for column in ("updated_at", "settings", "flat", "health_notes", "lives_alone"):
            batch_op.drop_column(column)
        batch_op.drop_column("grid_id")
        batch_op.drop_column("community_id")
    with op.batch_alter_table("caregivers") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_caregivers_town_id_towns"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_caregivers_town_id"))
        batch_op.drop_column("town_id")
        batch_op.drop_column("phone")
        batch_op.drop_column("kind")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("expires_at")
    op.drop_table("users")
    op.drop_table("gateway_communities")
    op.drop_table("gateways")
    op.drop_table("grids")
    op.drop_table("communities")
    op.drop_table("towns")
