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


DASHBOARDS = {"silverguard-overview.json": overview}


def write() -> None:
    for name, build in DASHBOARDS.items():
        (HERE / name).write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write()
