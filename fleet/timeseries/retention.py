"""How long time series are kept, and the hourly summaries that outlive the raw points.

InfluxDB 1.x keeps points per *retention policy*. The fleet writes to the database's
default policy, ``raw`` (``raw_retention_days``); continuous queries fold each hour of
wristband, meter and gateway figures into the ``hourly`` policy
(``hourly_retention_days``), which battery trends, SLA reviews and the dashboards'
long views read. Statements here are idempotent: they run at every start.

When the fleet's InfluxDB user may only write (production: a write user, the database
made by the operator), these statements are refused; the fleet then says so once and
writes on — retention is the operator's to set.
"""

from fleet.settings import InfluxSettings

RAW = "raw"
HOURLY = "hourly"

# measurement -> field aggregations kept per hour (what the dashboards' long views and
# the battery model need; everything else stays in the raw policy only)
_SUMMARIES: dict[str, dict[str, str]] = {
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


def _duration(days: int) -> str:
    return "INF" if days == 0 else f"{days}d"


def policy_statements(settings: InfluxSettings) -> list[tuple[str, str]]:
    """(create, alter) pairs: create first; if the policy exists, alter it instead."""
    db = settings.database
    out = []
    for name, days, default in (
        (RAW, settings.raw_retention_days, True),
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
    """The SELECT ... INTO of each continuous query, by query name."""
    db = settings.database
    selects = {}
    for measurement, fields in _SUMMARIES.items():
        columns = ", ".join(f'{fn}("{field}") AS "{field}"' for field, fn in fields.items())
        # Every name here is ours or the validated database name (InfluxSettings).
        selects[f"cq_{measurement}_hourly"] = (
            f'SELECT {columns} INTO "{db}"."{HOURLY}"."{measurement}" '  # noqa: S608
            f'FROM "{db}"."{RAW}"."{measurement}" GROUP BY time(1h), *'
        )
    return selects


def continuous_queries(settings: InfluxSettings) -> list[str]:
    db = settings.database
    return [
        f'CREATE CONTINUOUS QUERY "{name}" ON "{db}" BEGIN {select} END'
        for name, select in summary_selects(settings).items()
    ]
