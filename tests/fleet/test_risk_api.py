"""Risk tags against the registry on SQLite and PostgreSQL: the day's tags from band,
medication, meter and alert events, the registry and outside reports; since-dates over
days; reports imported all or nothing, by API and CSV; who sees what."""

from datetime import UTC, date, datetime, timedelta

import pytest

from contract import EventKind, Severity
from fleet import clock
from fleet.alerts import service
from fleet.auth import Role
from fleet.db.session import utcnow
from fleet.risk import daily
from tests.fleet.alerting_seed import band_event
from tests.fleet.helpers import Api, district

BAND = "C2:00:00:00:00:01"


@pytest.fixture
def world(api: Api) -> Api:
    district(api)
    api.admin.ok(
        "post",
        "/api/v1/wristbands",
        {"mac": BAND, "bind_key": "00112233445566778899aabbccddeeff", "resident_id": "r-1"},
        201,
    )
    api.admin.ok(
        "patch",
        "/api/v1/residents/r-1",
        {"birth_year": 1940, "conditions": ["高血压", "认知障碍"], "lives_alone": True},
    )
    return api


def record(api: Api, kind: EventKind, key: int, at: datetime, severity=Severity.HIGH) -> None:
    """An event of the resident's band, its alert answered by their caregiver at once
    (so the escalator running in the background leaves it as it is)."""
    with api.fleet.sessions.begin() as session:
        recorded = service.record_event(
            session, band_event(BAND, kind, key=key, severity=severity, at=at), at
        )
        if recorded.alert_id is not None:
            service.acknowledge(session, recorded.alert_id, "contact:cg-1", at)


def post_csv(api: Api, caller, data: bytes):
    return api.client.post(
        "/api/v1/risk/reports/import?source=hotline",
        content=data,
        headers={"Authorization": f"Bearer {caller.token}", "Content-Type": "text/csv"},
    )


def evaluate(api: Api, day: date) -> dict:
    return api.admin.ok("post", "/api/v1/risk/evaluate", {"day": day.isoformat()})


def test_the_days_tags_with_evidence_and_since_when(world: Api):
    today = utcnow().astimezone(UTC).date()
    noon = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=4)
    record(world, EventKind.FALL, 1, noon - timedelta(days=3), Severity.CRITICAL)
    for key in range(2, 5):
        record(world, EventKind.MISSED_DOSE, key, noon - timedelta(days=key - 1))
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    staff.ok(
        "post",
        "/api/v1/risk/reports",
        {
            "source": "网格员巡查",
            "rows": [
                {
                    "resident_id": "r-1",
                    "reported_at": (today - timedelta(days=2)).isoformat(),
                    "concern": "门口报纸两天未取",
                }
            ],
        },
    )

    yesterday = today - timedelta(days=1)
    first = evaluate(world, yesterday)
    assert first["started"] >= 5
    second = evaluate(world, today)
    risk = staff.ok("get", "/api/v1/risk/residents/r-1")
    tags = {t["tag"]: t for t in risk["tags"]}
    assert set(tags) >= {
        "fell_recently",
        "missed_doses",
        "lives_alone",
        "aged_80_plus",
        "dementia_noted",
        "several_conditions",
        "outside_concern",
    }
    assert "activity_declining" not in tags  # no telemetry facts given: missing, not a tag
    assert tags["fell_recently"]["evidence_zh"] == "近 30 天跌倒 1 次"
    assert tags["missed_doses"]["evidence_en"] == "3 missed dose(s) in the last 7 days"
    assert tags["outside_concern"]["evidence_zh"] == "近 30 天收到 1 条反映（来源：网格员巡查）"
    assert tags["aged_80_plus"]["evidence_zh"] == f"{today.year - 1940} 岁"
    # Held since the first evaluation; the weight is the tags', shown with them.
    assert tags["fell_recently"]["since"] == yesterday.isoformat()
    assert risk["weight"] == sum(t["weight"] for t in risk["tags"])
    assert second["started"] == 0
    # Running a day again changes nothing.
    assert evaluate(world, today)["tags"] == second["tags"]
    assert len(staff.ok("get", "/api/v1/risk/residents/r-1")["tags"]) == len(tags)

    # The registry changes: the tag ends, and comes back with a new date later.
    world.admin.ok("patch", "/api/v1/residents/r-1", {"lives_alone": False})
    later = today + timedelta(days=1)
    assert evaluate(world, later)["ended"] >= 1
    assert "lives_alone" not in {
        t["tag"] for t in staff.ok("get", "/api/v1/risk/residents/r-1")["tags"]
    }

    # Other towns and other caregivers do not see it.
    south = world.as_("li.na", Role.STAFF, "t-south")
    assert south.get("/api/v1/risk/residents/r-1").status_code == 404
    assert world.as_("cg-2", Role.CAREGIVER).get("/api/v1/risk/residents/r-1").status_code == 404
    assert world.as_("cg-1", Role.CAREGIVER).get("/api/v1/risk/residents/r-1").status_code == 200
    assert staff.post("/api/v1/risk/evaluate", json={}).status_code == 403


def test_reports_naming_an_unknown_resident_import_nothing(world: Api):
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    today = utcnow().astimezone(clock.zone()).date().isoformat()
    rows = [
        {"resident_id": "r-1", "reported_at": today, "concern": "独自外出未归"},
        {"resident_id": "r-999", "reported_at": today, "concern": "x"},
        {"resident_id": "r-2", "reported_at": today, "concern": "another town's resident"},
        {"resident_id": "r-1", "reported_at": "yesterday", "concern": "bad date"},
    ]
    response = staff.post("/api/v1/risk/reports", json={"source": "热线", "rows": rows})
    assert response.status_code == 422
    body = response.json()
    assert body["imported"] == 0
    assert [(e["row"], e["message"]) for e in body["errors"]] == [
        (2, "unknown resident 'r-999'"),
        (3, "unknown resident 'r-2'"),
        (4, "reported_at 'yesterday' is not a date (YYYY-MM-DD) or time"),
    ]
    evaluate(world, utcnow().astimezone(clock.zone()).date())
    tags = {t["tag"] for t in staff.ok("get", "/api/v1/risk/residents/r-1")["tags"]}
    assert "outside_concern" not in tags  # nothing was imported, not even row 1


def test_reports_by_csv_with_a_source_name(world: Api):
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    today = utcnow().astimezone(clock.zone()).date().isoformat()
    good = f"resident_id,reported_at,concern\nr-1,{today},邻居反映夜里有呼救声\n".encode()
    bad = good + b"r-404,2026-01-01,x\n"
    refused = post_csv(world, staff, bad)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"row": 2, "message": "unknown resident 'r-404'"}]
    done = post_csv(world, staff, b"\xef\xbb\xbf" + good)
    assert done.status_code == 200, done.text
    assert done.json()["imported"] == 1
    header_only = post_csv(world, staff, b"resident,when\n")
    assert header_only.status_code == 422
    assert "lacks the column" in header_only.text
    evaluate(world, utcnow().astimezone(clock.zone()).date())
    tags = {t["tag"]: t for t in staff.ok("get", "/api/v1/risk/residents/r-1")["tags"]}
    assert tags["outside_concern"]["evidence_en"] == "1 report(s) in 30 days (from: hotline)"


def test_the_table_is_served(world: Api):
    table = world.as_("cg-1", Role.CAREGIVER).ok("get", "/api/v1/risk/tags")
    assert len(table) >= 12
    assert {"fell_recently", "no_water_mornings", "outside_concern"} <= {t["id"] for t in table}


def test_meter_events_count_for_the_flats_resident(world: Api):
    world.admin.ok("patch", "/api/v1/residents/r-1", {"flat": "f-101"})
    world.admin.ok("post", "/api/v1/gateways", {"id": "gw-01", "communities": ["c-xingfu"]}, 201)
    world.admin.ok(
        "post",
        "/api/v1/meters",
        {
            "id": "m-101-w",
            "flat": "f-101",
            "protocol": "modbus",
            "address": "2",
            "profile": "sdm120",
            "port": "/dev/ttyUSB0",
            "gateway_id": "gw-01",
            "community_id": "c-xingfu",
        },
        201,
    )
    now = utcnow()
    for key in (1, 2):
        record_meter = band_event(
            "m-101-w", EventKind.NO_WATER, key=key, at=now - timedelta(days=key)
        )
        with world.fleet.sessions.begin() as session:
            service.record_event(session, record_meter, now)
    with world.fleet.sessions.begin() as session:
        result = daily.evaluate_day(session, now.astimezone(UTC).date() + timedelta(days=1))
    assert result.tags >= 1
    tags = {t["tag"] for t in world.admin.ok("get", "/api/v1/risk/residents/r-1")["tags"]}
    assert "no_water_mornings" in tags


def test_a_report_dated_today_is_taken_at_any_hour_and_tomorrow_is_refused(world: Api):
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    local_today = utcnow().astimezone(clock.zone()).date()
    for day, status in ((local_today, 200), (local_today + timedelta(days=1), 422)):
        response = staff.post(
            "/api/v1/risk/reports",
            json={
                "source": "热线",
                "rows": [{"resident_id": "r-1", "reported_at": day.isoformat(), "concern": "x"}],
            },
        )
        assert response.status_code == status, response.text


def test_the_board_ranks_lists_visits_and_a_visit_closes_the_loop(world: Api):
    admin = world.admin
    admin.ok(
        "post",
        "/api/v1/caregivers",
        {"id": "w-li", "display_name": "网格员李", "kind": "grid_worker", "town_id": "t-north"},
        201,
    )
    admin.ok(
        "post",
        "/api/v1/grids",
        {"id": "g-1", "community_id": "c-xingfu", "name": "一网格", "worker_id": "w-li"},
        201,
    )
    admin.ok("patch", "/api/v1/residents/r-1", {"grid_id": "g-1"})
    local_today = utcnow().astimezone(clock.zone()).date()
    now = utcnow()
    record(world, EventKind.FALL, 1, now - timedelta(days=2), Severity.CRITICAL)
    evaluate(world, local_today)

    staff = world.as_("wang.li", Role.STAFF, "t-north")
    got = staff.ok("get", "/api/v1/risk/board?community_id=c-xingfu")
    [entry] = got["entries"]
    assert entry["resident_id"] == "r-1"
    assert entry["weight"] == sum(t["weight"] for t in entry["tags"])
    assert "fell_recently" in entry["new"]
    assert (entry["worker_id"], entry["worker_name"], entry["needs_visit"]) == (
        "w-li",
        "网格员李",
        True,
    )
    [visits] = got["visits"]
    assert visits["worker_id"] == "w-li"
    [item] = visits["residents"]
    assert item["resident_id"] == "r-1"
    assert "近期跌倒：近 30 天跌倒 1 次" in item["why_zh"]
    assert "fell recently: 1 fall(s) in the last 30 days" in item["why_en"]

    # The grid worker visits and finds a concern: off the list, and the concern becomes
    # a report that the next evaluation turns into a tag.
    worker = world.as_("w-li", Role.CAREGIVER)
    visit = worker.ok(
        "post",
        "/api/v1/risk/visits",
        {"resident_id": "r-1", "found": "concern", "note": "腿部淤青，行走不稳"},
        201,
    )
    assert visit["visitor_id"] == "w-li"
    got = staff.ok("get", "/api/v1/risk/board?community_id=c-xingfu")
    assert got["visits"] == []
    assert got["entries"][0]["visited_on"] == local_today.isoformat()
    evaluate(world, local_today)
    tags = {t["tag"]: t for t in staff.ok("get", "/api/v1/risk/residents/r-1")["tags"]}
    assert tags["outside_concern"]["evidence_en"] == "1 report(s) in 30 days (from: visit)"

    # Someone else's resident, another town's board: not found.
    assert (
        world.as_("cg-2", Role.CAREGIVER)
        .post("/api/v1/risk/visits", json={"resident_id": "r-1", "found": "well"})
        .status_code
        == 404
    )
    south = world.as_("li.na", Role.STAFF, "t-south")
    assert south.get("/api/v1/risk/board?community_id=c-xingfu").status_code == 404
    assert (
        south.post("/api/v1/risk/visits", json={"resident_id": "r-1", "found": "well"}).status_code
        == 404
    )
