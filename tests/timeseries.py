"""Time series for tests that write history straight into InfluxDB, as the fleet would
have over days: the fleet's retention tiers made first, and the aggregates folded after
(what the continuous queries do as their intervals close, run at once for the span)."""

from datetime import UTC, datetime

import httpx

from fleet.settings import InfluxSettings
from fleet.timeseries import retention


def _run(url: str, database: str, statement: str) -> None:
    response = httpx.post(f"{url}/query", data={"q": statement, "db": database}, timeout=60)
    assert response.status_code == 200, response.text
    for result in response.json()["results"]:
        assert "error" not in result, (statement, result["error"])


def prepare(url: str, database: str) -> None:
    """The database with the fleet's tiers, ``raw`` its default (what writes go to)."""
    settings = InfluxSettings(url=url, database=database)
    _run(url, "", f'CREATE DATABASE "{database}"')
    for create, _alter in retention.policy_statements(settings):
        _run(url, database, create)


def fold(url: str, database: str, since: float, until: float) -> None:
    """Fold raw points of [since, until) (unix seconds) into the minute and hourly tiers."""
    settings = InfluxSettings(url=url, database=database)
    for statement in retention.backfill_statements(
        settings, datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(until, UTC)
    ):
        _run(url, database, statement)
