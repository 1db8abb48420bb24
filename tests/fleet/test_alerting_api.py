"""The alerting API on SQLite and PostgreSQL: escalation policies and duty lines, the
alert's timeline, SLA figures, and the pages behind a one-click acknowledge link."""

from datetime import timedelta

import pytest

from contract import EventKind, Severity
from fleet.alerts import service
from fleet.auth import Role
from fleet.db.session import utcnow
from tests.fleet.alerting_seed import band_event
from tests.fleet.helpers import Api, district

BAND = "C2:00:00:00:00:01"
SHORT = {
    "steps": [
        {"after_s": 0, "targets": ["caregivers"]},
        {"after_s": 120, "targets": ["grid_worker", "contact:c-nurse"]},
    ],
    "repeat_every_s": 300,
}


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
        "post",
        "/api/v1/caregivers",
        {"id": "c-nurse", "display_name": "值班护士", "town_id": "t-north"},
        201,
    )
    return api


def open_alert(api: Api, kind: EventKind = EventKind.FALL, key: int = 1, ago_s: float = 0) -> int:
    with api.fleet.sessions.begin() as session:
        recorded = service.record_event(
            session,
            band_event(BAND, kind, key=key, severity=Severity.CRITICAL),
            utcnow() - timedelta(seconds=ago_s),
        )
    assert recorded.alert_id is not None
    return recorded.alert_id


def test_staff_set_their_communitys_policy_and_duty_line(world: Api):
    north = world.as_("wang.li", Role.STAFF, "t-north")
    default = north.ok("get", "/api/v1/communities/c-xingfu/escalation-policy")
    assert default["default"] is True
    assert [s["after_s"] for s in default["steps"]] == [0, 300, 600]
    assert default["repeat_every_s"] == 900

    saved = north.ok("put", "/api/v1/communities/c-xingfu/escalation-policy", SHORT)
    assert saved["default"] is False
    assert saved["updated_by"] == "staff:wang.li"
    assert saved["steps"][1]["targets"] == ["grid_worker", "contact:c-nurse"]
    duty = north.ok("put", "/api/v1/communities/c-xingfu/duty-line", {"contact_id": "cg-1"})
    assert duty["duty_line"] == "cg-1"
    # A new alert uses it.
    alert_id = open_alert(world)
    detail = north.ok("get", f"/api/v1/alerts/{alert_id}")
    assert detail["escalation"]["policy"]["repeat_every_s"] == 300
    assert detail["escalation"]["next_step"] == 1
    assert detail["escalation"]["next_targets"] == ["grid_worker", "contact:c-nurse"]

    back = north.ok("delete", "/api/v1/communities/c-xingfu/escalation-policy")
    assert back["default"] is True
    audit = world.admin.ok("get", "/api/v1/audit")
    actions = [entry["action"] for entry in audit]
    assert "escalation_policy.set" in actions
    assert "community.duty_line" in actions


def test_policies_are_checked_and_scoped(world: Api):
    north = world.as_("wang.li", Role.STAFF, "t-north")
    south = world.as_("li.na", Role.STAFF, "t-south")
    path = "/api/v1/communities/c-xingfu/escalation-policy"
    # Another town's staff: as if it did not exist.
    assert south.get(path).status_code == 404
    assert south.put(path, json=SHORT).status_code == 404
    caregiver = world.as_("cg-1", Role.CAREGIVER)
    assert caregiver.get(path).status_code == 403
    late_start = {"steps": [{"after_s": 60, "targets": ["caregivers"]}], "repeat_every_s": 600}
    response = north.put(path, json=late_start)
    assert response.status_code == 422
    assert "called at once" in response.text
    unknown = {
        "steps": [{"after_s": 0, "targets": ["contact:c-nobody"]}],
        "repeat_every_s": 600,
    }
    response = north.put(path, json=unknown)
    assert response.status_code == 422
    assert "c-nobody" in response.text
    # cg-2 is registered in the other town: not usable by this town's staff.
    response = north.put("/api/v1/communities/c-xingfu/duty-line", json={"contact_id": "cg-2"})
    assert response.status_code == 422


def test_the_alert_shows_its_whole_history(world: Api):
    alert_id = open_alert(world)
    open_alert(world, EventKind.SOS, key=2)  # a second press: folded in
    north = world.as_("wang.li", Role.STAFF, "t-north")
    north.ok("post", f"/api/v1/alerts/{alert_id}/ack")
    north.ok("post", f"/api/v1/alerts/{alert_id}/resolve", {"outcome": "attended", "note": "扶起"})
    detail = north.ok("get", f"/api/v1/alerts/{alert_id}")
    actions = [e["action"] for e in detail["timeline"]]
    lifecycle = {"opened", "folded", "acknowledged", "resolved"}
    assert [a for a in actions if a in lifecycle] == [
        "opened",
        "folded",
        "acknowledged",
        "resolved",
    ]
    # cg-1 has no channel registered: the step says so (and the next step is due now).
    assert actions[1:3] == ["escalated", "no_contact"]
    acked = next(e for e in detail["timeline"] if e["action"] == "acknowledged")
    assert acked["actor"] == "staff:wang.li"
    assert [e["kind"] for e in detail["events"]] == ["fall", "sos"]
    assert detail["deliveries"] == []
    assert detail["state"] == "resolved"
    assert detail["resolved_by"] == "staff:wang.li"
    assert detail["escalation"]["next_step"] is None
    # Staff of another town and other caregivers do not see it.
    assert (
        world.as_("li.na", Role.STAFF, "t-south").get(f"/api/v1/alerts/{alert_id}").status_code
        == 404
    )
    assert world.as_("li.na", Role.STAFF, "t-south").ok("get", "/api/v1/alerts") == []
    assert world.as_("cg-2", Role.CAREGIVER).ok("get", "/api/v1/alerts") == []
    assert len(world.as_("cg-1", Role.CAREGIVER).ok("get", "/api/v1/alerts")) == 1


def test_sla_figures_per_community_and_day_for_the_callers_town(world: Api):
    quick = open_alert(world, key=1, ago_s=3600)
    with world.fleet.sessions.begin() as session:
        service.acknowledge(session, quick, "staff:w", utcnow() - timedelta(seconds=3600 - 240))
        service.resolve(session, quick, actor="staff:w", outcome="attended", note="", now=utcnow())
    open_alert(world, key=2, ago_s=1800)  # nobody answered for 30 minutes: a miss
    north = world.as_("wang.li", Role.STAFF, "t-north")
    figures = north.ok("get", "/api/v1/sla")
    assert figures["target_s"] == 900
    total = figures["total"]
    assert (total["alerts"], total["acknowledged"], total["eligible"]) == (2, 1, 2)
    assert total["within_target_share"] == 0.5
    assert total["ack_median_s"] == pytest.approx(240, abs=1)
    assert [c["community_id"] for c in figures["communities"]] == ["c-xingfu"]
    assert {d["community_id"] for d in figures["days"]} == {"c-xingfu"}
    # The other town sees none of it; a caregiver may not ask.
    assert (
        world.as_("li.na", Role.STAFF, "t-south").ok("get", "/api/v1/sla")["total"]["alerts"] == 0
    )
    assert world.as_("cg-1", Role.CAREGIVER).get("/api/v1/sla").status_code == 403
    bad = north.get("/api/v1/sla", params={"start": "2026-05-05", "end": "2026-05-01"})
    assert bad.status_code == 422
    # Days at the ends of the calendar (the API fuzz found 500s there): refused by name.
    for path in ("/api/v1/sla", "/api/v1/dispatch/arrival"):
        for params in ({"start": "0001-01-01"}, {"end": "9999-12-31"}):
            far = north.get(path, params=params)
            assert far.status_code == 422, (path, params, far.text)
            assert next(iter(params)) in far.text
    only_inactivity = north.ok("get", "/api/v1/sla?incident=inactivity")
    assert only_inactivity["total"]["alerts"] == 0


def test_an_acknowledge_link_shows_then_acknowledges_once(world: Api):
    alert_id = open_alert(world)
    token = world.fleet.links.token(alert_id, "cg-1", utcnow())
    client = world.client
    page = client.get(f"/ack/{token}")
    assert page.status_code == 200
    assert "我来处理" in page.text  # cg-1's locale is zh-CN
    assert 'method="post"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    # Showing the page (a chat app's link preview) acknowledged nothing.
    assert world.admin.ok("get", f"/api/v1/alerts/{alert_id}")["state"] == "open"

    done = client.post(f"/ack/{token}")
    assert done.status_code == 200
    assert "已确认" in done.text
    alert = world.admin.ok("get", f"/api/v1/alerts/{alert_id}")
    assert alert["state"] == "acknowledged"
    assert alert["acknowledged_by"] == "contact:cg-1"
    ack = next(e for e in alert["timeline"] if e["action"] == "acknowledged")
    assert ack["detail"] == {"via": "link"}

    for method in (client.get, client.post):
        again = method(f"/ack/{token}")
        assert again.status_code == 410
        assert "已经使用过" in again.text


def test_a_forged_expired_or_late_link_gets_a_clear_page(world: Api):
    alert_id = open_alert(world)
    client = world.client
    token = world.fleet.links.token(alert_id, "cg-1", utcnow())
    forged = token.replace(f".{alert_id}.", f".{alert_id + 1}.")
    for bad in (forged, "v1.1.cg-1.99999999999.AAAAAAAAAAAAAAAAAAAAAA", "nonsense", "x" * 500):
        for method in (client.get, client.post):
            response = method(f"/ack/{bad}")
            assert response.status_code == 403
            assert "This link is not valid" in response.text
            assert "此链接无效" in response.text
    expired = world.fleet.links.token(alert_id, "cg-1", utcnow() - timedelta(days=2))
    response = client.post(f"/ack/{expired}")
    assert response.status_code == 410
    assert "已过期" in response.text
    assert world.admin.ok("get", f"/api/v1/alerts/{alert_id}")["state"] == "open"
    # Someone else acknowledged first: the next link says who, and changes nothing.
    world.as_("cg-1", Role.CAREGIVER).ok("post", f"/api/v1/alerts/{alert_id}/ack")
    other = world.fleet.links.token(alert_id, "cg-2", utcnow())
    late = client.post(f"/ack/{other}")
    assert late.status_code == 200
    assert "照护人1" in late.text
    assert (
        world.admin.ok("get", f"/api/v1/alerts/{alert_id}")["acknowledged_by"] == "caregiver:cg-1"
    )
