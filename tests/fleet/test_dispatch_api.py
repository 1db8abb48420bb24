"""Dispatch on SQLite and PostgreSQL: a critical alert becomes a task; acknowledging
takes it (the others are told); the holder's signed links check in and record the
outcome, which resolves the alert; "I can't go" passes it on; staff reassign it.
Forged, expired, reused and someone else's links get a page in words."""

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from contract import EventKind, Severity
from fleet.alerts import service
from fleet.auth import Role
from fleet.db.models import Delivery, DispatchTask
from fleet.db.session import utcnow
from fleet.dispatch import actions
from fleet.dispatch.task_link import TaskAction
from fleet.dispatch.tasks import Done, Found, Outcome
from tests.fleet.alerting_seed import band_event
from tests.fleet.helpers import Api, district

BAND = "C2:00:00:00:00:01"
HOOK = "json://127.0.0.1:9/hook"  # closed port: deliveries stay queued, which is all we read


@pytest.fixture
def world(api: Api) -> Api:
    district(api)
    admin = api.admin
    admin.ok("patch", "/api/v1/caregivers/cg-1", {"channels": [HOOK]})
    for cid, name, kind in (("w-li", "网格员李", "grid_worker"), ("duty-1", "值班电话", "family")):
        admin.ok(
            "post",
            "/api/v1/caregivers",
            {
                "id": cid,
                "display_name": name,
                "kind": kind,
                "channels": [HOOK],
                "phone": "+8613900000099",
                "town_id": "t-north",
            },
            201,
        )
    admin.ok(
        "post",
        "/api/v1/grids",
        {"id": "g-1", "community_id": "c-xingfu", "name": "一网格", "worker_id": "w-li"},
        201,
    )
    admin.ok("put", "/api/v1/communities/c-xingfu/duty-line", {"contact_id": "duty-1"})
    admin.ok(
        "patch",
        "/api/v1/residents/r-1",
        {
            "grid_id": "g-1",
            "key_holder": "邻居王阿姨 302室",
            "key_holder_phone": "+8613900000302",
            "health_notes": "高血压；左腿行动不便",
        },
    )
    admin.ok(
        "post",
        "/api/v1/wristbands",
        {"mac": BAND, "bind_key": "00112233445566778899aabbccddeeff", "resident_id": "r-1"},
        201,
    )
    return api


def open_alert(api: Api, kind: EventKind = EventKind.SOS, key: int = 1) -> int:
    with api.fleet.sessions.begin() as session:
        recorded = service.record_event(
            session, band_event(BAND, kind, key=key, severity=Severity.CRITICAL), utcnow()
        )
    assert recorded.alert_id is not None
    return recorded.alert_id


def notices(api: Api, task_id: int) -> list[tuple[str, str | None]]:
    with api.fleet.sessions() as session:
        rows = session.execute(
            select(Delivery.caregiver_id, Delivery.purpose)
            .where(Delivery.task_id == task_id)
            .order_by(Delivery.id)
        ).all()
    return [(r[0], r[1]) for r in rows]


def task_link(api: Api, task_id: int, contact: str, action: TaskAction, ago_h: float = 0) -> str:
    now = utcnow() - timedelta(hours=ago_h)
    return f"/task/{api.fleet.task_links.token(task_id, contact, action, now)}"


def ack(api: Api, alert_id: int, contact: str) -> None:
    response = api.client.post(f"/ack/{api.fleet.links.token(alert_id, contact, utcnow())}")
    assert response.status_code == 200, response.text


def test_the_worker_takes_the_task_goes_checks_in_and_closes_it(world: Api):
    alert_id = open_alert(world)
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    [task] = staff.ok("get", "/api/v1/tasks?open=true")
    assert (task["alert_id"], task["state"], task["owner_id"]) == (alert_id, "offered", None)

    ack(world, alert_id, "w-li")
    task = staff.ok("get", f"/api/v1/tasks/{task['id']}")
    assert (task["state"], task["owner_id"], task["owner_name"]) == ("accepted", "w-li", "网格员李")
    # The worker gets the task with their links; the caregiver, who was called, is told
    # it is taken.
    assert notices(world, task["id"]) == [("w-li", "assigned"), ("cg-1", "taken")]

    worker = world.as_("w-li", Role.CAREGIVER)
    [mine] = worker.ok("get", "/api/v1/tasks/mine")
    assert mine["address"] == "c-xingfu 1号楼1室"
    assert mine["key_holder"] == "邻居王阿姨 302室"
    assert mine["care_notes"] == "高血压；左腿行动不便"
    assert {(c["role"], c["phone"]) for c in mine["calls"]} >= {
        ("key_holder", "+8613900000302"),
        ("family", "+8613800000001"),
        ("duty_line", "+8613900000099"),
    }
    check_in = mine["links"]["check_in"].split("://", 1)[1].split("/", 1)[1]
    page = world.client.get(f"/{check_in}")
    assert page.status_code == 200
    assert "我已出发" in page.text
    assert "我已到达" in page.text

    assert world.client.post(f"/{check_in}", data={"step": "on_the_way"}).status_code == 200
    assert staff.ok("get", f"/api/v1/tasks/{task['id']}")["state"] == "on_the_way"
    arrived = world.client.post(
        f"/{check_in}", data={"step": "on_site", "lat": "34.80", "lon": "113.65"}
    )
    assert arrived.status_code == 200, arrived.text
    assert "已签到" in arrived.text
    again = world.client.post(f"/{check_in}", data={"step": "on_site"})
    assert again.status_code == 410
    assert "此链接已经使用过" in again.text

    outcome = mine["links"]["outcome"].split("://", 1)[1].split("/", 1)[1]
    form = world.client.get(f"/{outcome}")
    assert "跌倒，未受伤" in form.text
    done = world.client.post(
        f"/{outcome}",
        data={"found": "fall_uninjured", "done": ["helped_up", "called_family"], "note": "无外伤"},
    )
    assert done.status_code == 200, done.text
    assert "任务已结束" in done.text

    task = staff.ok("get", f"/api/v1/tasks/{task['id']}")
    assert task["state"] == "closed"
    assert task["close_reason"] == "outcome"
    assert (task["found"], task["done"]) == ("fall_uninjured", ["called_family", "helped_up"])
    assert (task["on_site_latitude"], task["on_site_longitude"]) == (34.80, 113.65)
    alert = staff.ok("get", f"/api/v1/alerts/{alert_id}")
    assert (alert["state"], alert["outcome"], alert["note"]) == ("resolved", "attended", "无外伤")
    steps = [line["action"] for line in alert["timeline"]]
    for step in ("task_offered", "task_accepted", "task_on_the_way", "task_on_site"):
        assert step in steps
    assert steps.index("task_outcome") < steps.index("resolved") < steps.index("task_closed")
    assert worker.ok("get", "/api/v1/tasks/mine") == []


def test_someone_elses_forged_expired_or_reused_links_are_refused_in_words(world: Api):
    alert_id = open_alert(world)
    ack(world, alert_id, "w-li")
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    [task] = staff.ok("get", "/api/v1/tasks")

    theirs = task_link(world, task["id"], "cg-1", TaskAction.OUTCOME)
    shown = world.client.get(theirs)
    assert shown.status_code == 409
    assert "此任务由 网格员李 负责" in shown.text
    posted = world.client.post(theirs, data={"found": "false_alarm"})
    assert posted.status_code == 409
    assert "网格员李" in posted.text

    good = task_link(world, task["id"], "w-li", TaskAction.CHECK_IN)
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    refused = world.client.get(forged)
    assert refused.status_code == 403
    assert "此链接无效" in refused.text
    assert "This link is not valid" in refused.text
    # An acknowledge link is not a task link, nor the other way round.
    ack_token = world.fleet.links.token(alert_id, "w-li", utcnow())
    assert world.client.get(f"/task/{ack_token}").status_code == 403

    expired = world.client.get(task_link(world, task["id"], "w-li", TaskAction.CHECK_IN, 48))
    assert expired.status_code == 410
    assert "此链接已过期" in expired.text

    decline = task_link(world, task["id"], "w-li", TaskAction.DECLINE)
    assert world.client.post(decline).status_code == 200
    assert world.client.post(decline).status_code == 410
    assert staff.ok("get", f"/api/v1/tasks/{task['id']}")["state"] != "closed"


def test_i_cant_go_passes_the_task_on_and_nobody_left_keeps_it(world: Api):
    alert_id = open_alert(world)
    ack(world, alert_id, "cg-1")
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    [task] = staff.ok("get", "/api/v1/tasks")
    assert task["owner_id"] == "cg-1"

    page = world.client.post(task_link(world, task["id"], "cg-1", TaskAction.DECLINE))
    assert page.status_code == 200
    assert "已转交给 网格员李" in page.text
    task = staff.ok("get", f"/api/v1/tasks/{task['id']}")
    assert (task["owner_id"], task["state"], task["declined"]) == ("w-li", "accepted", ["cg-1"])

    world.client.post(task_link(world, task["id"], "w-li", TaskAction.DECLINE))
    task = staff.ok("get", f"/api/v1/tasks/{task['id']}")
    assert task["owner_id"] == "duty-1"
    last = world.client.post(task_link(world, task["id"], "duty-1", TaskAction.DECLINE))
    assert last.status_code == 409
    assert "nobody else" in last.text
    assert staff.ok("get", f"/api/v1/tasks/{task['id']}")["owner_id"] == "duty-1"
    assert [n for n in notices(world, task["id"]) if n[1] == "assigned"] == [
        ("cg-1", "assigned"),
        ("w-li", "assigned"),
        ("duty-1", "assigned"),
    ]


def test_staff_assign_and_reassign_within_their_town(world: Api):
    alert_id = open_alert(world)
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    task = staff.ok("post", f"/api/v1/alerts/{alert_id}/task/assign", {"contact_id": "w-li"})
    assert (task["owner_id"], task["state"]) == ("w-li", "accepted")
    alert = staff.ok("get", f"/api/v1/alerts/{alert_id}")
    assert alert["state"] == "acknowledged"  # someone is on it: the policy stops calling

    task = staff.ok("post", f"/api/v1/alerts/{alert_id}/task/assign", {"contact_id": "duty-1"})
    assert task["owner_id"] == "duty-1"
    assert ("w-li", "moved") in notices(world, task["id"])
    # Town south's caregiver is not theirs to send; south's staff cannot see the alert.
    refused = staff.post(f"/api/v1/alerts/{alert_id}/task/assign", json={"contact_id": "cg-2"})
    assert refused.status_code == 404
    south = world.as_("zhao.yu", Role.STAFF, "t-south")
    other = south.post(f"/api/v1/alerts/{alert_id}/task/assign", json={"contact_id": "cg-2"})
    assert other.status_code == 404
    assert south.ok("get", "/api/v1/tasks") == []
    # A caregiver may not dispatch.
    carer = world.as_("cg-1", Role.CAREGIVER)
    assert (
        carer.post(
            f"/api/v1/alerts/{alert_id}/task/assign", json={"contact_id": "w-li"}
        ).status_code
        == 403
    )


def test_staff_acknowledging_in_the_console_gives_the_task_to_the_grid_worker(world: Api):
    alert_id = open_alert(world)
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    staff.ok("post", f"/api/v1/alerts/{alert_id}/ack")
    [task] = staff.ok("get", "/api/v1/tasks")
    assert (task["owner_id"], task["state"]) == ("w-li", "accepted")


def test_resolving_the_alert_closes_its_task_and_a_warning_makes_none(world: Api):
    alert_id = open_alert(world)
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    staff.ok("post", f"/api/v1/alerts/{alert_id}/resolve", {"outcome": "false_alarm"})
    [task] = staff.ok("get", "/api/v1/tasks")
    assert (task["state"], task["close_reason"]) == ("closed", "alert_resolved")
    gone = world.client.get(task_link(world, task["id"], "w-li", TaskAction.CHECK_IN))
    assert gone.status_code == 409
    assert "该任务已结束" in gone.text

    with world.fleet.sessions.begin() as session:
        recorded = service.record_event(
            session,
            band_event(BAND, EventKind.MISSED_DOSE, key=7, severity=Severity.HIGH),
            utcnow(),
        )
    assert recorded.new_alert  # an alert, but nobody needs to go: no task
    assert len(staff.ok("get", "/api/v1/tasks")) == 1


def test_time_to_arrive_per_community_and_day_and_the_monthly_csv(world: Api):
    opened = utcnow() - timedelta(hours=2)
    # Three falls: on site after 9 and 22 minutes, and one resolved before anyone went.
    for key, (on_site_min, found) in enumerate(
        ((9, Found.FALL_UNINJURED), (22, Found.FALSE_ALARM), (None, None)), start=1
    ):
        at = opened + timedelta(minutes=key * 30)
        with world.fleet.sessions.begin() as session:
            recorded = service.record_event(
                session, band_event(BAND, EventKind.FALL, key=key, severity=Severity.CRITICAL), at
            )
            alert_id = recorded.alert_id
            assert alert_id is not None
            service.acknowledge(session, alert_id, "contact:w-li", at + timedelta(minutes=2))
        with world.fleet.sessions.begin() as session:
            task = session.execute(
                select(DispatchTask).where(DispatchTask.alert_id == alert_id)
            ).scalar_one()
            if on_site_min is None:
                service.resolve(
                    session,
                    alert_id,
                    actor="staff:wang.li",
                    outcome="false_alarm",
                    note="",
                    now=at + timedelta(minutes=5),
                )
                continue
            actions.check_in(session, task.id, "w-li", at + timedelta(minutes=on_site_min))
            actions.record_outcome(
                session,
                task.id,
                "w-li",
                Outcome(found, frozenset({Done.CALLED_FAMILY})),
                at + timedelta(minutes=on_site_min + 10),
            )
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    figures = staff.ok("get", "/api/v1/dispatch/arrival")
    total = figures["total"]
    assert (total["tasks"], total["accepted"], total["on_site"]) == (3, 3, 2)
    assert total["accept_median_s"] == 120
    assert (total["on_site_median_s"], total["on_site_p90_s"]) == (9 * 60, 22 * 60)
    assert (total["eligible"], total["within_target"], total["within_target_share"]) == (2, 1, 0.5)
    assert total["closed_without_arrival"] == 1
    assert total["outcomes"] == {"fall_uninjured": 1, "false_alarm": 1}
    assert [c["community_id"] for c in figures["communities"]] == ["c-xingfu"]
    assert sum(d["tasks"] for d in figures["days"]) == 3
    # Another town's staff see none of it.
    south = world.as_("zhao.yu", Role.STAFF, "t-south")
    assert south.ok("get", "/api/v1/dispatch/arrival")["total"]["tasks"] == 0
    assert world.as_("w-li", Role.CAREGIVER).get("/api/v1/dispatch/arrival").status_code == 403

    month = opened.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    response = staff.get(f"/api/v1/dispatch/arrival.csv?month={month}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="arrival-{month}.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["社区编号 / community id", "社区 / community", "日期 / day"]
    total_row = dict(zip(rows[0], rows[-1], strict=True))
    assert total_row["日期 / day"] == "合计 / total"
    assert total_row["任务数 / tasks"] == "3"
    assert total_row["到达中位分钟 / on-site median min"] == "9.0"
    assert total_row["15分钟内到达比例 / within 15 min share"] == "0.5"
    assert total_row["结果 / found: false_alarm"] == "1"
    month_row = next(r for r in rows if r[2] == "月计 / month")
    assert month_row[:2] == ["c-xingfu", "c-xingfu"]
    assert staff.get("/api/v1/dispatch/arrival.csv?month=2026-13").status_code == 422


def test_two_false_alarms_in_a_week_ask_for_a_band_check_and_precision_is_measured(world: Api):
    staff = world.as_("wang.li", Role.STAFF, "t-north")
    for key, found in ((1, Found.FALSE_ALARM), (2, Found.FALL_UNINJURED), (3, Found.FALSE_ALARM)):
        alert_id = open_alert(world, EventKind.FALL, key=key)
        ack(world, alert_id, "w-li")
        task = next(t for t in staff.ok("get", "/api/v1/tasks") if t["alert_id"] == alert_id)
        form = world.client.post(
            task_link(world, task["id"], "w-li", TaskAction.OUTCOME), data={"found": found.value}
        )
        assert form.status_code == 200, form.text
        checks = staff.ok("get", "/api/v1/care-tasks")
        assert len(checks) == (1 if key == 3 else 0)
    [check] = checks
    assert (check["resident_id"], check["kind"], check["assignee_id"]) == (
        "r-1",
        "check_band",
        "w-li",
    )
    assert check["reason"]["false_alarms_7d"] == 2
    assert check["reason"]["text_zh"] == "一周内两次误报：请检查手环佩戴和设置"
    # The grid worker sees it, checks the band, and it closes.
    worker = world.as_("w-li", Role.CAREGIVER)
    assert [c["id"] for c in worker.ok("get", "/api/v1/care-tasks")] == [check["id"]]
    assert worker.ok("post", "/api/v1/residents/r-1/band-check/done")["closed"] == 1
    assert staff.ok("get", "/api/v1/care-tasks") == []
    assert (
        world.as_("cg-1", Role.CAREGIVER).post("/api/v1/residents/r-1/band-check/done").status_code
        == 404
    )

    figures = staff.ok("get", "/api/v1/dispatch/precision")
    [fall] = figures["rules"]
    assert (fall["rule"], fall["real"], fall["false"], fall["precision"]) == ("fall", 1, 2, 0.3333)
    assert figures["residents"][0]["resident_id"] == "r-1"
    assert figures["flags"] == []  # staff: their town's figures; flags are the admin's
    # Enough judged alerts below the floor: flagged to the admin with the figures.
    for key in (4, 5):
        alert_id = open_alert(world, EventKind.FALL, key=key)
        staff.ok("post", f"/api/v1/alerts/{alert_id}/resolve", {"outcome": "false_alarm"})
    flags = world.admin.ok("get", "/api/v1/dispatch/precision")["flags"]
    assert flags == [{"rule": "fall", "precision": 0.2, "real": 1, "false": 4, "floor": 0.5}]
