"""Contract tests run the fleet's registry (SQLite and PostgreSQL) beside the gateway's
code: the fleet's fixtures serve here too."""

from tests.fleet.conftest import api, db_url, postgres, settings, sqlite_template

__all__ = ["api", "db_url", "postgres", "settings", "sqlite_template"]
