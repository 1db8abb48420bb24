"""Engine, sessions and migrations for the registry (SQLite by default, PostgreSQL too)."""

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from fleet import clock

_MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Product time (fleet/clock.py): real time unless the district simulation runs."""
    return clock.utcnow()


def _make_sqlite_dir(url: str) -> None:
    """The SQLite file's directory, and the file itself, readable by its owner only: it
    holds names, addresses, phone numbers and channel URLs. SQLite gives its -wal and
    -shm files the database file's mode."""
    path = url.split("///", 1)[-1]
    if url.startswith("sqlite") and path and path != ":memory:":
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _make_sqlite_dir(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # FULL: a commit is on disk before it returns. With NORMAL (in WAL mode) a
            # power cut can undo the last commits — an event already acknowledged to its
            # gateway, which has then deleted it. Measured cost: docs/registry.md.
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def warn_if_not_durable(engine: Engine) -> None:
    """PostgreSQL with ``synchronous_commit=off`` may lose the last commits in a crash —
    events already acknowledged to their gateways. The default is on; say so if not."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect() as conn:
            value = str(conn.execute(text("SHOW synchronous_commit")).scalar())
    except Exception as exc:  # the database may be down at start; /health says so
        log.warning("could not read PostgreSQL's synchronous_commit: %s", type(exc).__name__)
        return
    if value == "off":
        log.warning(
            "PostgreSQL runs with synchronous_commit=off: a crash can lose events already "
            "acknowledged to gateways; set it to on (docs/registry.md)"
        )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database to the latest schema (idempotent)."""
    _make_sqlite_dir(url)
    command.upgrade(alembic_config(url), "head")
