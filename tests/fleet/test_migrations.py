"""Migration 0003 on SQLite and PostgreSQL: the schema matches the models, alerts and
delivery jobs of the previous version survive, and it can be undone."""

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from fleet.db.models import Base
from fleet.db.session import alembic_config, migrate


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    server = request.getfixturevalue("postgres")
    return str(server.create_database(f"m_{uuid.uuid4().hex[:16]}"))


def test_upgrade_keeps_old_alerts_and_jobs_and_matches_the_models(empty_url: str):
    config = alembic_config(empty_url)
    command.upgrade(config, "0002")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO towns VALUES ('t-a', 'A', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO communities VALUES ('c-a', 't-a', 'A', CURRENT_TIMESTAMP)"))
        conn.execute(
            text(
                "INSERT INTO residents (id, display_name, address, community_id, lives_alone,"
                " health_notes, settings, created_at) VALUES"
                " ('r-1', 'R', '', 'c-a', true, '', '{}', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO caregivers (id, display_name, kind, locale, channels, created_at)"
                " VALUES ('cg-1', 'C', 'family', 'zh-CN', 'json://x/y', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO alerts (id, event_id, kind, severity, device, resident_id, state,"
                " opened_at) VALUES (1, 'e-1', 'fall', 'critical', 'AA', 'r-1', 'open',"
                " CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (alert_id, caregiver_id, status, attempts, due_at,"
                " created_at) VALUES (1, 'cg-1', 'pending', 0, CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP)"
            )
        )
    migrate(empty_url)
    with engine.connect() as conn:
        alert = conn.execute(text("SELECT community_id, incident FROM alerts")).one()
        assert tuple(alert) == ("c-a", "emergency")
        job = conn.execute(text("SELECT status, channel_ref FROM deliveries")).one()
        assert tuple(job) == ("pending", None)  # sent to all the contact's channels
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"render_as_batch": True}), Base.metadata
        )
    assert differences == []
    command.downgrade(config, "0002")
    command.upgrade(config, "head")
    engine.dispose()
