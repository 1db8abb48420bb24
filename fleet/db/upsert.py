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
    if dialect == "postgresql":
        pg_stmt = (
            postgresql.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=keys, index_where=where)
        )
        result = session.execute(pg_stmt)
    elif dialect == "sqlite":
        lite_stmt = (
            sqlite.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=keys, index_where=where)
        )
        result = session.execute(lite_stmt)
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database dialect {dialect}")
    return bool(getattr(result, "rowcount", 0) == 1)
