"""Grafana dashboards as code: ``python dashboards/build.py`` writes the JSON models.

Panels query InfluxDB with InfluxQL (the datasource ``Silverguard InfluxDB``, see
provisioning/). A test runs every query against a real InfluxDB with telemetry in it,
so a dashboard cannot ship a query that does not parse or names a missing field.
"""

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DATASOURCE = {"type": "influxdb", "uid": "silverguard-influxdb"}


def _panel(
    pid: int,
    title: str,
    query: str,
    *,
    kind: str = "timeseries",
    unit: str = "",
    x: int = 0,
    y: int = 0,
    w: int = 12,
    h: int = 8,
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {
                "refId": "A",
                "datasource": DATASOURCE,
                "rawQuery": True,
                "resultFormat": "time_series" if kind == "timeseries" else "table",
                "query": query,
            }
        ],
    }


def overview() -> dict[str, Any]:
    panels = [
        _panel(
            1,
            "Wristbands heard per gateway",
            'SELECT count(distinct("device")) FROM (SELECT last("rssi") AS rssi FROM "wristband" WHERE $timeFilter GROUP BY time($__interval), "device", "gateway") GROUP BY time($__interval), "gateway"',
            x=0,
            y=0,
        ),
        _panel(
            2,
            "Lowest battery (%)",
            'SELECT last("battery") AS "battery" FROM "wristband" WHERE $timeFilter GROUP BY "device"',
            kind="table",
            unit="percent",
            x=12,
            y=0,
        ),
        _panel(
            3,
            "Gateway outbox backlog",
            'SELECT last("outbox_events") AS "events", last("outbox_telemetry") AS "telemetry batches" FROM "gateway_health" WHERE $timeFilter GROUP BY time($__interval), "gateway" fill(previous)',
            x=0,
            y=8,
        ),
        _panel(
            4,
            "Adverts rejected by reason",
            'SELECT non_negative_derivative(last("rejected_replay"), 1m) AS "replay", non_negative_derivative(last("rejected_wrong_key"), 1m) AS "wrong key", non_negative_derivative(last("rejected_unknown_device"), 1m) AS "unknown device" FROM "gateway_health" WHERE $timeFilter GROUP BY time($__interval), "gateway"',
            unit="short",
            x=12,
            y=8,
        ),
        _panel(
            5,
            "Peak acceleration (g)",
            'SELECT max("peak_g") FROM "wristband" WHERE $timeFilter AND "device" =~ /^$device$/ GROUP BY time($__interval), "device"',
            x=0,
            y=16,
        ),
        _panel(
            6,
            "Steps",
            'SELECT non_negative_difference(last("steps")) FROM "wristband" WHERE $timeFilter AND "device" =~ /^$device$/ GROUP BY time($__interval), "device"',
            x=12,
            y=16,
        ),
        _panel(
            7,
            "Signal strength (dBm)",
            'SELECT mean("rssi") FROM "wristband" WHERE $timeFilter AND "device" =~ /^$device$/ GROUP BY time($__interval), "gateway"',
            unit="dBm",
            x=0,
            y=24,
        ),
    ]
    return {
        "uid": "silverguard-overview",
        "title": "Silverguard — overview",
        "tags": ["silverguard"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "device",
                    "label": "Wristband",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": 'SHOW TAG VALUES FROM "wristband" WITH KEY = "device"',
                    "multi": True,
                    "includeAll": True,
                    "refresh": 2,
                }
            ]
        },
        "panels": panels,
    }


def operations() -> dict[str, Any]:
    """For the engineers running the fleet: each fleet process's ingest, lag, refusals,
    broker and InfluxDB figures (the ``fleet`` measurement every process writes every
    ``metrics_interval_s``), and the gateways' long view from the hourly tier."""
    per = 'FROM "fleet" WHERE $timeFilter GROUP BY time($__interval), "instance"'
    panels = [
        _panel(
            1,
            "Ingest rate (readings/s) per fleet process",
            f'SELECT non_negative_derivative(last("readings_kept"), 1s) AS "kept" {per}',
            unit="short",
            x=0,
            y=0,
        ),
        _panel(
            2,
            "Ingest lag (s): newest reading of a batch, on arrival",
            f'SELECT max("lag_s") AS "lag" {per}',
            unit="s",
            x=12,
            y=0,
        ),
        _panel(
            3,
            "Dead letters and refused readings per minute",
            'SELECT non_negative_derivative(last("dead_letters_parked"), 1m) AS "parked", '
            'non_negative_derivative(last("dead_letters_over_budget"), 1m) AS "over budget", '
            'non_negative_derivative(last("readings_refused"), 1m) AS "readings refused", '
            f'non_negative_derivative(last("internal_errors"), 1m) AS "internal errors" {per}',
            unit="short",
            x=0,
            y=8,
        ),
        _panel(
            4,
            "Broker: gateways online, as each fleet process sees them",
            f'SELECT last("gateways_online") AS "gateways online" {per} fill(previous)',
            unit="short",
            x=12,
            y=8,
        ),
        _panel(
            5,
            "InfluxDB write errors and dropped lines per minute",
            'SELECT non_negative_derivative(last("influx_failures"), 1m) AS "failed writes", '
            'non_negative_derivative(last("influx_dropped"), 1m) AS "lines dropped", '
            f'non_negative_derivative(last("influx_spill_dropped"), 1m) AS "spill dropped" {per}',
            unit="short",
            x=0,
            y=16,
        ),
        _panel(
            6,
            "InfluxDB backlog (lines in memory and on disk)",
            'SELECT last("influx_pending_lines") AS "pending", '
            f'last("influx_spill_lines") AS "spilled" {per} fill(previous)',
            unit="short",
            x=12,
            y=16,
        ),
        _panel(
            7,
            "Fleet processes now",
            'SELECT last("broker_connected") AS "broker", last("influx_reachable") AS "influxdb", '
            'last("readings_kept") AS "readings kept", last("events") AS "events", '
            'last("lag_s") AS "lag (s)", last("influx_pending_lines") AS "pending lines" '
            'FROM "fleet" WHERE $timeFilter GROUP BY "instance"',
            kind="table",
            x=0,
            y=24,
            w=24,
        ),
        _panel(
            8,
            "Adverts per second per gateway (hourly tier, for months)",
            'SELECT mean("adverts_per_s") FROM "hourly"."gateway_health" WHERE $timeFilter '
            'GROUP BY time(1h), "gateway"',
            unit="short",
            x=0,
            y=32,
        ),
        _panel(
            9,
            "Gateway outbox backlog, worst per hour (hourly tier)",
            'SELECT max("outbox_events") AS "events", max("outbox_telemetry") AS "telemetry" '
            'FROM "hourly"."gateway_health" WHERE $timeFilter GROUP BY time(1h), "gateway"',
            unit="short",
            x=12,
            y=32,
        ),
    ]
    return {
        "uid": "silverguard-operations",
        "title": "Silverguard — operations",
        "tags": ["silverguard"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": []},
        "panels": panels,
    }


DASHBOARDS = {"silverguard-overview.json": overview, "silverguard-operations.json": operations}


def write() -> None:
    for name, build in DASHBOARDS.items():
        (HERE / name).write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write()
