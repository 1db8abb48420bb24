"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL alike.

Dedup lives in database constraints, not in process memory, so any number of fleet
instances can receive the same event and exactly one insert wins.
"""

from typing import Any

from sqlalchemy import ColumnElement, Table, TextClause
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session,
    table: Table,
    values: dict[str, Any],
    keys: list[str],
    *,
    where: ColumnElement[bool] | TextClause | None = None,
) -> bool:
    """Insert one row unless ``keys`` collide; True when this call inserted it.

    ``where`` names the predicate of a partial unique index over ``keys``.
    """
    dialect = session.get_bind().dialect.name
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = (
            postgresql.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=keys, index_where=where)
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=keys, index_where=where)
        )
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database dialect {dialect}")
    # RETURNING, not rowcount: psycopg 3 under SQLAlchemy 2.1 reports rowcount -1 for
    # INSERT ... ON CONFLICT DO NOTHING, which read as "not inserted" for every row.
    # A skipped row returns nothing (PostgreSQL, SQLite >= 3.35).
    returned = session.execute(stmt.returning(*table.primary_key.columns))
    return returned.first() is not None
