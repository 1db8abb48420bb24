"""The endpoints behind the console, on SQLite and PostgreSQL, with a real InfluxDB:
battery figures from a week of history, gateways' status and heartbeats, alert counts."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from contract import EventKind, GatewayStatus, Health, Severity
from fleet.alerts import service
from fleet.auth import Role
from fleet.db.session import utcnow
from fleet.settings import FleetSettings
from silverguard.servers.influxdb import InfluxServer
from silverguard.servers.process import free_port
from tests import timeseries
from tests.fleet.alerting_seed import band_event
from tests.fleet.helpers import Api, district, make_app

BANDS = {f"C2:00:00:00:00:{i:02X}": "r-1" if i == 1 else None for i in range(1, 8)}


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influx")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database(influx: InfluxServer) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    timeseries.prepare(influx.url, name)
    return name


@pytest.fixture
def console_api(db_url: str, tmp_path: Path, influx: InfluxServer, database: str) -> Iterator[Api]:
    settings = FleetSettings(
        data_dir=tmp_path / "fleet",
        database_url=db_url,
        mqtt={"host": "127.0.0.1", "port": free_port()},  # type: ignore[arg-type]
        influx={"url": influx.url, "database": database},  # type: ignore[arg-type]
        battery_cache_s=0,
    )
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        district(api)
        for mac, resident in BANDS.items():
            api.admin.ok(
                "post",
                "/api/v1/wristbands",
                {
                    "mac": mac,
                    "bind_key": mac.replace(":", "")[-4:] + "00112233445566778899aabbccdd",
                    **({"resident_id": resident} if resident else {"community_id": "c-xingfu"}),
                },
                201,
            )
        yield api


def write(influx: InfluxServer, database: str, lines: list[str]) -> None:
    response = httpx.post(
        f"{influx.url}/write",
        params={"db": database, "precision": "s"},
        content="\n".join(lines).encode(),
    )
    assert response.status_code == 204, response.text


def discharge(
    mac: str, start: int, per_day: float, *, days: int = 4, end_ago_s: int = 300
) -> list[str]:
    now = time.time() - end_ago_s
    return [
        f"wristband,device={mac},gateway=gw-1 battery={round(start - per_day * h / 24)}i,rssi=-60i "
        f"{int(now - (days * 24 - h) * 3600)}"
        for h in range(days * 24 + 1)
    ]


def test_battery_figures_from_the_time_series(
    console_api: Api, influx: InfluxServer, database: str
):
    macs = list(BANDS)
    lines = []
    for mac in macs[1:6]:
        lines += discharge(mac, 90, 2.0)
    lines += discharge(macs[0], 95, 9.0, days=2)  # r-1's band: draining fast
    write(influx, database, lines)  # macs[6] never heard
    timeseries.fold(influx.url, database, time.time() - 5 * 86400, time.time())

    staff = console_api.as_("wang", Role.STAFF, "t-north")
    report = staff.ok("get", "/api/v1/battery")
    assert report["available"] is True
    assert report["median_drain_per_day"] == pytest.approx(2.0, abs=0.1)
    bands = {b["mac"]: b for b in report["bands"]}
    assert set(bands) == set(macs)
    fast = bands[macs[0]]
    assert fast["resident_id"] == "r-1"
    assert fast["abnormal"] is True
    assert fast["drain_per_day"] == pytest.approx(9.0, abs=0.3)
    assert fast["level"] == 95 - 18
    assert fast["days_left"] == pytest.approx(77 / 9.0, abs=0.3)
    assert bands[macs[1]]["abnormal"] is False
    assert bands[macs[1]]["not_heard"] is False
    silent = bands[macs[6]]
    assert silent["level"] is None
    assert silent["not_heard"] is True

    # A caregiver sees their resident's band only; staff of another town none.
    caregiver = console_api.as_("cg-1", Role.CAREGIVER).ok("get", "/api/v1/battery")
    assert [b["mac"] for b in caregiver["bands"]] == [macs[0]]
    assert caregiver["bands"][0]["abnormal"] is True  # compared with the whole fleet
    south = console_api.as_("li", Role.STAFF, "t-south").ok("get", "/api/v1/battery")
    assert south["bands"] == []


def test_battery_without_influxdb_lists_the_bands_and_says_why(db_url: str, tmp_path: Path):
    settings = FleetSettings(
        data_dir=tmp_path / "fleet",
        database_url=db_url,
        mqtt={"host": "127.0.0.1", "port": free_port()},  # type: ignore[arg-type]
        influx={"url": f"http://127.0.0.1:{free_port()}"},  # type: ignore[arg-type]
    )
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        district(api)
        api.admin.ok(
            "post",
            "/api/v1/wristbands",
            {
                "mac": "C2:00:00:00:00:01",
                "bind_key": "0001" + "00112233445566778899aabbccdd",
                "resident_id": "r-1",
            },
            201,
        )
        report = api.admin.ok("get", "/api/v1/battery")
    assert report["available"] is False
    assert "unreachable" in report["problem"]
    assert [b["mac"] for b in report["bands"]] == ["C2:00:00:00:00:01"]


def test_gateway_status_merges_the_retained_status_and_the_stored_heartbeat(
    console_api: Api, influx: InfluxServer, database: str
):
    admin = console_api.admin
    for gateway_id, community in (("gw-north", "c-xingfu"), ("gw-south", "c-nanhu")):
        admin.ok("post", "/api/v1/gateways", {"id": gateway_id, "communities": [community]}, 201)
    now = time.time()
    # Another fleet instance took gw-north's last heartbeat and stored it in InfluxDB.
    write(
        influx,
        database,
        [
            f"gateway_health,gateway=gw-north uptime_s=3600,outbox_events=4i,outbox_telemetry=12i {int(now - 20)}"
        ],
    )
    fleet = console_api.fleet
    fleet._on_gateway(
        "gw-north", GatewayStatus(gateway="gw-north", state="online", ts=now - 60, version="0.1.0")
    )
    fleet._on_gateway("gw-south", GatewayStatus(gateway="gw-south", state="offline", ts=now - 30))
    fleet._on_gateway(
        "gw-rig", Health(gateway="gw-rig", ts=now, uptime_s=5, figures={"outbox_events": 0})
    )

    staff = console_api.as_("wang", Role.STAFF, "t-north").ok("get", "/api/v1/gateway-status")
    assert [g["id"] for g in staff] == ["gw-north"]
    north = staff[0]
    assert north["connection"] == "online"
    assert north["outbox_events"] == 4
    assert north["outbox_telemetry"] == 12
    assert north["uptime_s"] == 3600
    assert north["software_version"] == "0.1.0"
    assert north["state"] == "created"
    assert north["config_in_sync"] is False

    every = {g["id"]: g for g in admin.ok("get", "/api/v1/gateway-status")}
    assert every["gw-south"]["connection"] == "offline"
    assert every["gw-rig"]["registered"] is False  # heard on the broker, not registered
    assert every["gw-rig"]["connection"] == "unknown"  # no retained status seen

    # Its heartbeats stop: still "online" on the broker, but silent.
    fleet.live_gateways.on_health(Health(gateway="gw-north", ts=now - 600, uptime_s=3600))
    dropped = httpx.post(
        f"{influx.url}/query", data={"q": "DROP SERIES FROM gateway_health", "db": database}
    )
    assert dropped.status_code == 200
    silent = console_api.as_("wang", Role.STAFF, "t-north").ok("get", "/api/v1/gateway-status")
    assert silent[0]["connection"] == "silent"
    assert console_api.as_("cg-1", Role.CAREGIVER).get("/api/v1/gateway-status").status_code == 403


def test_overview_counts_unresolved_alerts_in_the_callers_scope(console_api: Api):
    with console_api.fleet.sessions.begin() as session:
        for kind, severity, key in (
            (EventKind.SOS, Severity.CRITICAL, 1),
            (EventKind.INACTIVITY, Severity.HIGH, 2),
            (EventKind.MISSED_DOSE, Severity.MEDIUM, 3),
        ):
            service.record_event(
                session,
                band_event("C2:00:00:00:00:01", kind, key=key, severity=severity),
                utcnow(),
            )
    admin = console_api.admin
    medication = next(a for a in admin.ok("get", "/api/v1/alerts") if a["kind"] == "missed_dose")
    admin.ok("post", f"/api/v1/alerts/{medication['id']}/ack")
    sos = next(a for a in admin.ok("get", "/api/v1/alerts") if a["kind"] == "sos")
    admin.ok("post", f"/api/v1/alerts/{sos['id']}/resolve", {"outcome": "false_alarm", "note": ""})

    counts = console_api.as_("cg-1", Role.CAREGIVER).ok("get", "/api/v1/overview")
    assert counts["unresolved_by_severity"] == {"critical": 0, "high": 1, "medium": 1, "low": 0}
    assert counts["unresolved_by_state"] == {"open": 1, "notified": 0, "acknowledged": 1}
    assert counts["opened_today"] == 3
    assert counts["resolved_today"] == 1
    other = console_api.as_("cg-2", Role.CAREGIVER).ok("get", "/api/v1/overview")
    assert sum(other["unresolved_by_severity"].values()) == 0
