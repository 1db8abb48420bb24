"""How long time series are kept, in three tiers, and the continuous queries between them.

InfluxDB 1.x keeps points per *retention policy*. The fleet writes to the database's
default policy, ``raw`` (``raw_retention_days``, 30 by default). Continuous queries fold
each minute of wristband, meter and gateway figures into ``minute``
(``minute_retention_days``, a year) and each hour of those minutes into ``hourly``
(``hourly_retention_days``, 0 = for ever). Readers of long spans (battery trends,
activity and meter history: fleet/timeseries/history.py) read the aggregates, so their
cost grows with the span in hours, not with the number of raw points.

Late data: a continuous query runs when its interval closes and, with ``RESAMPLE FOR``,
again for a few intervals after, so telemetry a gateway delivers up to
``minute_resample_min`` minutes late (a batch held by a short uplink outage) is still
folded in. The hourly query resamples two hours, which also covers the race with the
minute query at the top of the hour. Telemetry delivered later than that (a gateway
that was offline for hours) is in ``raw`` but not in the aggregates until someone runs
``backfill_statements`` for that span (``silverguard fleet backfill-aggregates``).

Statements here are idempotent: they run at every start; a policy whose duration changed
is altered, a continuous query whose definition changed is dropped and made again.

When the fleet's InfluxDB user may only write (production: a write user, the database
made by the operator), these statements are refused; the fleet then says so once and
writes on — retention is the operator's to set (docs/timeseries.md has the statements).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from fleet.settings import InfluxSettings

RAW = "raw"
MINUTE = "minute"
HOURLY = "hourly"

# measurement -> field aggregations kept per minute and per hour (what the dashboards'
# long views, activity history and the battery model need; everything else stays in the
# raw policy only). Each function is chosen so that applying it to its own per-minute
# results gives the per-hour result (last of lasts, max of maxes; the mean of per-minute
# means weighs each minute alike, which is what a chart over hours wants).
SUMMARIES: dict[str, dict[str, str]] = {
    "wristband": {
        "battery": "last",
        "steps": "last",
        "peak_g": "max",
        "rssi": "mean",
    },
    "meter": {
        "energy_kwh": "last",
        "volume_m3": "last",
        "power_w": "mean",
        "flow_m3h": "max",
    },
    "gateway_health": {
        "outbox_events": "max",
        "outbox_telemetry": "max",
        "adverts_per_s": "mean",
    },
}


@dataclass(frozen=True)
class Tier:
    """One retention policy that holds aggregates, and the tier it is folded from."""

    policy: str
    interval: str  # InfluxQL duration of one aggregate
    source: str  # the policy its continuous query reads
    resample_for: str  # how far back each run of the continuous query looks


def tiers(settings: InfluxSettings) -> tuple[Tier, Tier]:
    return (
        Tier(MINUTE, "1m", RAW, f"{settings.minute_resample_min}m"),
        Tier(HOURLY, "1h", MINUTE, "2h"),
    )


def _duration(days: int) -> str:
    return "INF" if days == 0 else f"{days}d"


def policy_statements(settings: InfluxSettings) -> list[tuple[str, str]]:
    """(create, alter) pairs: create first; if the policy exists, alter it instead."""
    db = settings.database
    out = []
    for name, days, default in (
        (RAW, settings.raw_retention_days, True),
        (MINUTE, settings.minute_retention_days, False),
        (HOURLY, settings.hourly_retention_days, False),
    ):
        tail = f"DURATION {_duration(days)} REPLICATION 1" + (" DEFAULT" if default else "")
        out.append(
            (
                f'CREATE RETENTION POLICY "{name}" ON "{db}" {tail}',
                f'ALTER RETENTION POLICY "{name}" ON "{db}" {tail}',
            )
        )
    return out


def summary_selects(settings: InfluxSettings) -> dict[str, str]:
    """The SELECT ... INTO of each continuous query, by query name (minute tier first)."""
    db = settings.database
    selects = {}
    for tier in tiers(settings):
        for measurement, fields in SUMMARIES.items():
            columns = ", ".join(f'{fn}("{field}") AS "{field}"' for field, fn in fields.items())
            # Every name here is ours or the validated database name (InfluxSettings).
            selects[f"cq_{measurement}_{tier.policy}"] = (
                f'SELECT {columns} INTO "{db}"."{tier.policy}"."{measurement}" '  # noqa: S608
                f'FROM "{db}"."{tier.source}"."{measurement}" '
                f"GROUP BY time({tier.interval}), *"
            )
    return selects


def continuous_queries(settings: InfluxSettings) -> dict[str, str]:
    """The CREATE CONTINUOUS QUERY statement of each query, by name."""
    db = settings.database
    resample = {
        f"cq_{measurement}_{tier.policy}": tier.resample_for
        for tier in tiers(settings)
        for measurement in SUMMARIES
    }
    return {
        name: (
            f'CREATE CONTINUOUS QUERY "{name}" ON "{db}" '
            f"RESAMPLE FOR {resample[name]} BEGIN {select} END"
        )
        for name, select in summary_selects(settings).items()
    }


def canonical(statement: str) -> str:
    """A CQ definition as comparable text: InfluxDB gives it back re-rendered (quotes
    dropped where not needed, ``RESAMPLE EVERY`` spelt out), so compare without quotes,
    case or spacing, and without the default ``EVERY`` it adds."""
    text = re.sub(r"\s+", " ", statement.replace('"', "")).strip().lower()
    return re.sub(r" every \d+[a-z]+(?= for)", "", text)


def backfill_statements(settings: InfluxSettings, since: datetime, until: datetime) -> list[str]:
    """The continuous queries' own SELECT ... INTO for [since, until), minute tier
    first: for telemetry delivered after the queries' resample window, for a database
    the policies were added to later, and for tests (InfluxDB 1.6 has no way to run a
    continuous query on demand)."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    # Whole hours, so that the hourly aggregates at either end see all their minutes.
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    window = (
        f"WHERE time >= '{start.strftime(fmt)}' AND time < '{until.astimezone(UTC).strftime(fmt)}' "
    )
    return [
        select.replace("GROUP BY", window + "GROUP BY", 1)
        for select in summary_selects(settings).values()
    ]
