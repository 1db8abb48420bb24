"""Bulk CSV imports of caregivers, residents (care plans included) and meters, as a
health center uses them: a dry run, every bad row named by row and column, all rows or
none, and staff kept to their town."""

import sqlalchemy as sa

from fleet.auth import Role
from fleet.db.models import Caregiver, Meter, Resident
from tests.fleet.helpers import Api, As, district


def post_csv(caller: As, kind: str, text: str, *, dry_run: bool) -> dict:  # type: ignore[type-arg]
    response = caller.client.post(
        f"/api/v1/{kind}/import?dry_run={'true' if dry_run else 'false'}",
        content=text.encode(),
        headers={"Authorization": f"Bearer {caller.token}", "Content-Type": "text/csv"},
    )
    result: dict = response.json()  # type: ignore[type-arg]
    # A run meant to apply that found errors answers 422; a dry run always 200.
    assert response.status_code == (422 if not dry_run and result.get("errors") else 200), result
    return result


def count(api: Api, model: type) -> int:
    with api.fleet.sessions() as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


def errors(report: dict) -> list[tuple[int, str]]:  # type: ignore[type-arg]
    return [(e["row"], e["column"]) for e in report["errors"]]


CAREGIVERS = """id,display_name,kind,locale,phone,channels
cg-a1,张女士,family,zh-CN,+8613800000001,json://127.0.0.1:9/a
cg-a2,李先生,家属,en,,
gw-worker-1,网格员王,网格员,,+8613800000003,
"""

RESIDENTS = """居民编号,姓名,社区,独居,房屋,活动时段,静止秒数,服药时间,药品,照护人,网格
r-a1,居民甲,c-xingfu,是,f-a1,07:00-21:30,7200,am=08:00;pm=20:00,am=降压药,cg-a1;cg-a2,
r-a2,居民乙,c-xingfu,否,,06:30-22:00,,,,cg-a2,
"""


def test_caregivers_then_residents_with_care_plans(api: Api):
    district(api)
    staff = api.as_("staff-north", Role.STAFF, "t-north")
    dry = post_csv(staff, "caregivers", CAREGIVERS, dry_run=True)
    assert (dry["rows"], dry["valid_rows"], dry["errors"], dry["applied"]) == (3, 3, [], False)
    assert count(api, Caregiver) == 2  # the district's own two
    done = post_csv(staff, "caregivers", CAREGIVERS, dry_run=False)
    assert (done["applied"], done["created"]) == (True, 3)
    worker = staff.ok("get", "/api/v1/caregivers/gw-worker-1")
    assert (worker["kind"], worker["town_id"], worker["has_phone"]) == (
        "grid_worker",
        "t-north",
        True,
    )
    assert staff.ok("get", "/api/v1/caregivers/cg-a1")["channel_count"] == 1

    done = post_csv(staff, "residents", RESIDENTS, dry_run=False)
    assert (done["applied"], done["created"]) == (True, 2)
    first = staff.ok("get", "/api/v1/residents/r-a1")
    assert first["care_plan"]["active_hours"] == {"start": "07:00", "end": "21:30"}
    assert first["care_plan"]["inactivity_s"] == 7200
    assert [d["id"] for d in first["care_plan"]["medication"]] == ["am", "pm"]
    assert first["medication_labels"] == {"am": "降压药"}
    assert [c["caregiver_id"] for c in first["caregivers"]] == ["cg-a1", "cg-a2"]
    assert (first["flat"], first["lives_alone"]) == ("f-a1", True)
    second = staff.ok("get", "/api/v1/residents/r-a2")
    assert (second["lives_alone"], second["care_plan"]["medication"]) == (False, [])
    # The caregiver sees their residents like any caregiver registered one by one.
    assert staff.ok("get", "/api/v1/caregivers/cg-a2")["residents"] == ["r-a1", "r-a2"]


def test_every_bad_resident_row_is_named_and_nothing_is_imported(api: Api):
    district(api)
    admin = api.admin
    admin.ok(
        "post", "/api/v1/grids", {"id": "g-nanhu-1", "community_id": "c-nanhu", "name": "g"}, 201
    )
    text = (
        "id,display_name,community_id,grid_id,active_hours,inactivity_s,doses,dose_labels,caregivers\n"
        "r-ok,好行,c-xingfu,,07:00-22:00,,,,cg-1\n"
        "r-b1,坏时间,c-xingfu,,25:00-22:00,,,,\n"  # row 3
        "r-b2,太短,c-xingfu,,,60,,,\n"  # row 4
        "r-b3,标签,c-xingfu,,,,am=08:00,pm=降压药,\n"  # row 5
        "r-b4,网格,c-xingfu,g-nanhu-1,,,,,\n"  # row 6: a grid of another community
        "r-ok,重复,c-xingfu,,,,,,\n"  # row 7
        "r-b5,没人,c-nowhere,,,,,,cg-nobody\n"  # row 8
        "r-1,已有,c-xingfu,,,,,,\n"  # row 9: registered by district()
        ",,c-xingfu,,,,am=8点,,\n"  # row 10
    )
    report = post_csv(admin, "residents", text, dry_run=False)
    assert report["applied"] is False
    assert report["created"] == 0
    assert errors(report) == [
        (3, "active_hours"),
        (4, "inactivity_s"),
        (5, "dose_labels"),
        (6, "grid_id"),
        (7, "id"),
        (8, "caregivers"),
        (8, "community_id"),
        (9, "id"),
        (10, "display_name"),
        (10, "doses"),
        (10, "id"),
    ]
    by_row = {(e["row"], e["column"]): e["message"] for e in report["errors"]}
    assert "same id as row 2" in by_row[(7, "id")]
    assert "pm" in by_row[(5, "dose_labels")]
    assert report["valid_rows"] == 1
    assert report["error_rows"] == 8
    assert count(api, Resident) == 2  # district()'s residents only: nothing half-imported


def test_staff_import_only_into_their_town(api: Api):
    district(api)
    staff = api.as_("staff-north", Role.STAFF, "t-north")
    text = "id,display_name,community_id,caregivers\nr-x,某人,c-nanhu,\nr-y,某人,c-xingfu,cg-2\n"
    report = post_csv(staff, "residents", text, dry_run=True)
    assert errors(report) == [(2, "community_id"), (3, "caregivers")]
    # Caregivers: another town, and a link to another town's resident.
    text = "id,display_name,town_id,residents\ncg-x,某人,t-south,\ncg-y,某人,,r-2\n"
    report = post_csv(staff, "caregivers", text, dry_run=True)
    assert errors(report) == [(2, "town_id"), (3, "residents")]


def test_caregiver_links_join_the_end_of_the_call_order(api: Api):
    district(api)
    staff = api.as_("staff-north", Role.STAFF, "t-north")
    text = "id,display_name,residents\ncg-n1,邻居,r-1\ncg-n2,女儿,r-1\n"
    post_csv(staff, "caregivers", text, dry_run=False)
    order = staff.ok("get", "/api/v1/residents/r-1")["caregivers"]
    assert [(c["caregiver_id"], c["priority"]) for c in order] == [
        ("cg-1", 1),
        ("cg-n1", 2),
        ("cg-n2", 3),
    ]


def test_a_bad_channel_is_named_without_echoing_it(api: Api):
    district(api)
    text = "id,display_name,channels\ncg-z,某人,notascheme://secret-token-123\n"
    report = post_csv(api.admin, "caregivers", text, dry_run=False)
    assert errors(report) == [(2, "channels")]
    assert "secret-token-123" not in str(report)
    assert count(api, Caregiver) == 2


def _meters_world(api: Api) -> None:
    district(api)
    api.admin.ok("post", "/api/v1/gateways", {"id": "gw-n", "communities": ["c-xingfu"]}, 201)
    api.admin.ok("patch", "/api/v1/residents/r-1", {"flat": "f-1"})


METER_HEADER = "id,flat,community_id,gateway_id,protocol,address,port,profile,poll_interval_s\n"


def test_meters_import_and_bus_clashes_within_the_file(api: Api):
    _meters_world(api)
    staff = api.as_("staff-north", Role.STAFF, "t-north")
    good = (
        METER_HEADER
        + "m-1-e,f-1,c-xingfu,gw-n,modbus,1,/dev/ttyUSB0,sdm120,30\n"
        + "m-1-w,f-1,c-xingfu,gw-n,modbus,2,/dev/ttyUSB0,water,\n"
    )
    bad = (
        good
        + "m-2-e,f-1,c-xingfu,gw-n,modbus,2,/dev/ttyUSB0,sdm120,\n"  # row 4: address taken
        + "m-3-e,f-9,c-xingfu,gw-n,modbus,3,/dev/ttyUSB0,sdm120,\n"  # row 5: nobody in f-9
        + "m-4-e,f-1,c-xingfu,gw-x,modbus,4,/dev/ttyUSB0,sdm120,\n"  # row 6: no such gateway
        + "m-5-e,f-1,c-xingfu,gw-n,modbus,999,/dev/ttyUSB0,sdm120,\n"  # row 7: bad address
        + "m-6-e,f-1,c-xingfu,gw-n,modbus,5,/dev/ttyUSB0,nosuch,soon\n"  # row 8
        + "m-7-e,f-1,c-nanhu,gw-n,modbus,6,/dev/ttyUSB0,sdm120,\n"  # row 9: other town
    )
    report = post_csv(staff, "meters", bad, dry_run=False)
    assert errors(report) == [
        (4, "address"),
        (5, "flat"),
        (6, "gateway_id"),
        (7, "address"),
        (8, "poll_interval_s"),
        (8, "profile"),
        (9, "community_id"),
    ]
    assert count(api, Meter) == 0
    done = post_csv(staff, "meters", good, dry_run=False)
    assert (done["applied"], done["created"]) == (True, 2)
    listed = staff.ok("get", "/api/v1/meters?gateway_id=gw-n")
    assert [(m["id"], m["poll_interval_s"]) for m in listed] == [("m-1-e", 30.0), ("m-1-w", 60.0)]
    # The gateway's config carries them (its desired version moved on).
    gateway = staff.ok("get", "/api/v1/gateways/gw-n")
    assert gateway["desired_version"] >= 2


def test_file_level_problems_name_row_1(api: Api):
    district(api)
    for text, words in (
        ("id,display_name,colour\nr-q,某人,red\n", "row 1: unknown column 'colour'"),
        ("display_name\n某人\n", "row 1 lacks the column(s): id, community_id"),
        ("id,display_name,community_id\n", "no rows"),
    ):
        admin = api.admin
        response = admin.client.post(
            "/api/v1/residents/import",
            content=text.encode(),
            headers={"Authorization": f"Bearer {admin.token}", "Content-Type": "text/csv"},
        )
        assert response.status_code == 422
        assert words in response.json()["detail"]
