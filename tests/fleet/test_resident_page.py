"""The resident page's one request: who, where, who is called, the care plan and its
delivery to the gateways, the band's figures from a real InfluxDB, the alerts — and
only for the people who may see that resident."""

import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime

import httpx
import pytest

from contract import EventKind, Severity
from fleet.alerts import service
from fleet.auth import Role
from fleet.db.session import utcnow
from fleet.timeseries import history, retention
from silverguard.servers.influxdb import InfluxServer
from tests.fleet import test_console_api as shared
from tests.fleet.alerting_seed import band_event
from tests.fleet.helpers import Api

# The console API's district and its real InfluxDB, shared with that module.
influx = shared.influx
database = shared.database
console_api = shared.console_api
write = shared.write

BEIJING = timezone(timedelta(hours=8))
MAC = "C2:00:00:00:00:01"  # r-1's band in the console API's district


def test_the_resident_page_shows_one_person_with_band_plan_and_alerts(
    console_api: Api, influx: InfluxServer, database: str
):
    admin = console_api.admin
    admin.ok(
        "post",
        "/api/v1/caregivers",
        {
            "id": "gw-zhao",
            "display_name": "赵网格",
            "kind": "grid_worker",
            "phone": "+8613900000001",
            "town_id": "t-north",
        },
        201,
    )
    admin.ok(
        "post",
        "/api/v1/grids",
        {"id": "g-1", "community_id": "c-xingfu", "name": "一网格", "worker_id": "gw-zhao"},
        201,
    )
    admin.ok("post", "/api/v1/gateways", {"id": "gw-north", "communities": ["c-xingfu"]}, 201)
    admin.ok("patch", "/api/v1/residents/r-1", {"grid_id": "g-1", "flat": "f-301"})
    now = int(time.time())
    write(
        influx,
        database,
        [
            f"wristband,device={MAC},gateway=gw-far battery=81i,rssi=-88i {now - 600}",
            f"wristband,device={MAC},gateway=gw-north battery=80i,rssi=-61i {now - 60}",
        ],
    )
    with console_api.fleet.sessions.begin() as session:
        service.record_event(
            session, band_event(MAC, EventKind.SOS, severity=Severity.CRITICAL), utcnow()
        )

    staff = console_api.as_("wang", Role.STAFF, "t-north")
    page = staff.ok("get", "/api/v1/residents/r-1/overview")
    assert page["display_name"] == "居民1"
    assert page["community"] == {"id": "c-xingfu", "name": "c-xingfu"}
    assert page["town"]["id"] == "t-north"
    assert page["grid"] == {"id": "g-1", "name": "一网格"}
    assert page["flat"] == "f-301"
    assert [(c["display_name"], c["phone"]) for c in page["caregivers"]] == [
        ("照护人1", "+8613800000001")
    ]
    assert page["grid_worker"]["display_name"] == "赵网格"
    assert page["care_plan"]["inactivity_s"] == 7200
    assert page["medication_labels"] == {"am": "降压药"}
    gateway = page["gateways"][0]
    assert gateway["id"] == "gw-north"
    assert gateway["desired_version"] >= 1
    assert gateway["reported_version"] is None
    assert gateway["in_sync"] is False
    band = page["band"]
    assert band["mac"] == MAC
    assert band["level"] == 80
    assert band["best_gateway"] == "gw-north"
    assert band["rssi"] == -61
    assert page["timeseries_problem"] is None
    assert [a["kind"] for a in page["open_alerts"]] == ["sos"]
    assert page["open_alerts"][0]["resident_name"] == "居民1"

    # Their own caregiver sees the page; another caregiver and another town's staff do
    # not, and cannot tell the resident exists.
    assert (
        console_api.as_("cg-1", Role.CAREGIVER).get("/api/v1/residents/r-1/overview").status_code
        == 200
    )
    for other in (
        console_api.as_("cg-2", Role.CAREGIVER),
        console_api.as_("li", Role.STAFF, "t-south"),
    ):
        refused = other.get("/api/v1/residents/r-1/overview")
        assert refused.status_code == 404
        assert refused.json() == other.get("/api/v1/residents/r-404/overview").json() | {
            "detail": "resident r-1 not found"
        }


def test_a_care_plan_a_gateway_could_not_apply_is_refused_naming_the_field(console_api: Api):
    response = console_api.admin.patch(
        "/api/v1/residents/r-1", json={"care_plan": {"inactivity_s": 60}}
    )
    assert response.status_code == 422
    assert "inactivity_s" in str(response.json()["detail"])


def _at(day: date, hour: int, minute: int = 0) -> int:
    """Seconds since the epoch of a Beijing local time."""
    return int(datetime.combine(day, dtime(hour, minute), BEIJING).timestamp())


def test_charts_draw_days_from_influxdb_aggregates_and_say_null_without_data(
    console_api: Api, influx: InfluxServer, database: str
):
    admin = console_api.admin
    admin.ok("post", "/api/v1/gateways", {"id": "gw-north", "communities": ["c-xingfu"]}, 201)
    admin.ok("patch", "/api/v1/residents/r-1", {"flat": "f-301"})
    admin.ok(
        "post",
        "/api/v1/meters",
        {
            "gateway_id": "gw-north",
            "community_id": "c-xingfu",
            "id": "m-301-w",
            "flat": "f-301",
            "port": "/dev/ttyUSB0",
            "protocol": "modbus",
            "address": "7",
            "profile": "water",
        },
        201,
    )
    today = datetime.now(BEIJING).date()
    lines = []
    for back in (1, 2, 3, 4):  # four earlier days: 3,000 steps each; 06:00-06:05 moving
        day = today - timedelta(days=back)
        lines += [
            f"wristband,device={MAC},gateway=gw-north steps=100i {_at(day, 7)}",
            f"wristband,device={MAC},gateway=gw-north steps=3100i {_at(day, 20)}",
            f"meter,device=m-301-w,gateway=gw-north volume_m3=10.{back}00 {_at(day, 8)}",
            f"meter,device=m-301-w,gateway=gw-north volume_m3=10.{back}25 {_at(day, 21)}",
        ]
        lines += [
            f"wristband,device={MAC},gateway=gw-north moving=true {_at(day, 9, m)}"
            for m in range(5)
        ]
    yesterday = today - timedelta(days=1)
    # The night before yesterday morning: 23:10-23:12 and 02:00 moving (4 minutes).
    lines += [
        f"wristband,device={MAC},gateway=gw-north moving=true {_at(yesterday - timedelta(days=1), 23, m)}"
        for m in (10, 11, 12)
    ]
    lines.append(f"wristband,device={MAC},gateway=gw-north moving=true {_at(yesterday, 2)}")
    # The flat's electricity meter, within the last full hour: half a kilowatt-hour.
    admin.ok(
        "post",
        "/api/v1/meters",
        {
            "gateway_id": "gw-north",
            "community_id": "c-xingfu",
            "id": "m-301-e",
            "flat": "f-301",
            "port": "/dev/ttyUSB0",
            "protocol": "modbus",
            "address": "8",
            "profile": "sdm120",
        },
        201,
    )
    last_hour = (int(time.time()) // 3600 - 1) * 3600
    lines += [
        f"meter,device=m-301-e,gateway=gw-north energy_kwh=100.0 {last_hour + 60}",
        f"meter,device=m-301-e,gateway=gw-north energy_kwh=100.5 {last_hour + 120}",
    ]
    write(influx, database, lines)

    charts = console_api.as_("wang", Role.STAFF, "t-north").ok(
        "get", "/api/v1/residents/r-1/charts?days=7"
    )
    days = [date.fromisoformat(d) for d in charts["days"]]
    assert days[-1] == today
    assert len(days) == 7
    by_day = dict(zip(days, charts["steps"], strict=True))
    assert by_day[yesterday] == 3000
    assert by_day[today] is None  # nothing heard today: null, not 0
    assert charts["baseline_steps"] == 3000
    active = dict(zip(days, charts["active_minutes"], strict=True))
    assert active[today - timedelta(days=3)] == 5
    night = dict(zip(days, charts["night_active_minutes"], strict=True))
    assert night[yesterday] == 4
    water = dict(zip(days, charts["water_m3"], strict=True))
    assert water[yesterday] == pytest.approx(0.025)
    assert sum(v is not None for v in charts["electricity_kwh"]) == 1  # the last hour's day
    assert len(charts["hours"]) == 48
    assert datetime.fromisoformat(charts["hours"][-2]).timestamp() == last_hour
    assert charts["electricity_kwh_hourly"][-2] == pytest.approx(0.5)
    assert charts["electricity_kwh_hourly"][-1] is None
    assert charts["problem"] is None

    # A resident with no band and no flat: every series empty, in words on the page.
    empty = admin.ok("get", "/api/v1/residents/r-2/charts?days=30")
    assert empty["steps"] == [None] * 30
    assert empty["battery"] == []
    assert (
        console_api.as_("cg-2", Role.CAREGIVER).get("/api/v1/residents/r-1/charts").status_code
        == 404
    )


def test_alerts_per_day_by_incident_in_the_callers_scope(console_api: Api):
    with console_api.fleet.sessions.begin() as session:
        for key, kind in enumerate((EventKind.SOS, EventKind.INACTIVITY, EventKind.MISSED_DOSE)):
            service.record_event(
                session, band_event(MAC, kind, key=key, severity=Severity.HIGH), utcnow()
            )
    first = console_api.admin.ok("get", "/api/v1/alerts")[0]
    console_api.admin.ok("post", f"/api/v1/alerts/{first['id']}/ack")
    chart = console_api.as_("wang", Role.STAFF, "t-north").ok("get", "/api/v1/charts/alerts?days=7")
    assert chart["total"] == 3
    assert {k: sum(v) for k, v in chart["by_incident"].items()} == {
        "emergency": 1,
        "inactivity": 1,
        "medication": 1,
    }
    assert chart["acknowledged_median_s"][-1] is not None
    south = console_api.as_("li", Role.STAFF, "t-south").ok("get", "/api/v1/charts/alerts")
    assert south["total"] == 0


def test_a_90_day_chart_reads_days_older_than_raw_readings_from_the_hourly_aggregates(
    console_api: Api, influx: InfluxServer, database: str
):
    # 60 days ago the raw readings are gone (kept 30 days): only the hourly tier holds
    # that day, as the continuous queries left it (the count at the end of each hour).
    day = datetime.now(BEIJING).date() - timedelta(days=60)
    hourly = "\n".join(
        f"wristband,device={MAC},gateway=gw-north steps={count}i {_at(day, hour)}"
        for hour, count in ((7, 200), (12, 1700), (20, 4200))
    )
    response = httpx.post(
        f"{influx.url}/write",
        params={"db": database, "rp": "hourly", "precision": "s"},
        content=hourly.encode(),
    )
    assert response.status_code == 204, response.text
    charts = console_api.admin.ok("get", "/api/v1/residents/r-1/charts?days=90")
    steps = dict(zip(map(date.fromisoformat, charts["days"]), charts["steps"], strict=True))
    assert steps[day] == 4000
    month = console_api.admin.ok("get", "/api/v1/residents/r-1/charts?days=30")
    assert str(day) not in month["days"]


def test_day_spans_split_at_a_local_midnight_where_raw_readings_end() -> None:
    now = datetime(2026, 6, 30, 10, 0, tzinfo=BEIJING)
    since = now - timedelta(days=90)
    (older, recent) = history.day_spans(since, now, now, 30, BEIJING)
    assert older[0] == retention.HOURLY
    assert recent[0] == history.RAW_SOURCE
    assert older[2] == recent[1] == datetime(2026, 6, 2, tzinfo=BEIJING)
    assert history.day_spans(now - timedelta(days=7), now, now, 30, BEIJING) == [
        (history.RAW_SOURCE, now - timedelta(days=7), now)
    ]
    assert history.day_spans(since, now, now, 0, BEIJING) == [(history.RAW_SOURCE, since, now)]
