"""The resident page's one request: who, where, who is called, the care plan and its
delivery to the gateways, the band's figures from a real InfluxDB, the alerts — and
only for the people who may see that resident."""

import time

from contract import EventKind, Severity
from fleet.alerts import service
from fleet.auth import Role
from fleet.db.session import utcnow
from silverguard.servers.influxdb import InfluxServer
from tests.fleet import test_console_api as shared
from tests.fleet.alerting_seed import band_event
from tests.fleet.helpers import Api

# The console API's district and its real InfluxDB, shared with that module.
influx = shared.influx
database = shared.database
console_api = shared.console_api
write = shared.write

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
