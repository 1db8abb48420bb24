"""The registry through its API, as staff and caregivers use it; on SQLite and PostgreSQL."""

import sqlalchemy as sa

from fleet.auth import Role
from fleet.db.models import Wristband
from tests.fleet.helpers import Api, district

KEY = "00112233445566778899aabbccddeeff"
MAC = "C2:00:00:00:00:01"


def test_requests_without_a_valid_token_are_refused(api: Api):
    assert api.client.get("/api/v1/residents").status_code == 401
    response = api.client.get(
        "/api/v1/residents", headers={"Authorization": "Bearer sg_not-a-token"}
    )
    assert response.status_code == 401
    assert "unknown" in response.json()["detail"]


def test_staff_see_and_change_only_their_town(api: Api):
    district(api)
    north = api.as_("staff-north", Role.STAFF, "t-north")
    assert [c["id"] for c in north.ok("get", "/api/v1/communities")] == ["c-heping", "c-xingfu"]
    assert [t["id"] for t in north.ok("get", "/api/v1/towns")] == ["t-north"]
    assert [r["id"] for r in north.ok("get", "/api/v1/residents")] == ["r-1"]
    assert north.get("/api/v1/residents/r-2").status_code == 404
    assert north.get("/api/v1/communities/c-nanhu").status_code == 404

    refused = north.post(
        "/api/v1/communities", {"id": "c-new", "town_id": "t-south", "name": "新社区"}
    )
    assert refused.status_code == 403
    moved = north.patch("/api/v1/residents/r-1", {"community_id": "c-nanhu"})
    assert moved.status_code == 422
    assert "outside your town" in moved.json()["detail"]
    # Staff cannot make towns; admins can.
    assert north.post("/api/v1/towns", {"id": "t-x", "name": "x"}).status_code == 403


def test_a_caregiver_sees_only_their_own_residents(api: Api):
    district(api)
    carer = api.as_("cg-1", Role.CAREGIVER)
    listed = carer.ok("get", "/api/v1/residents")
    assert [r["id"] for r in listed] == ["r-1"]
    assert listed[0]["medication_labels"] == {"am": "降压药"}
    assert carer.get("/api/v1/residents/r-2").status_code == 404
    assert carer.post("/api/v1/residents", {"id": "r-9"}).status_code in (403, 422)
    assert carer.patch("/api/v1/residents/r-1", {"address": "x"}).status_code == 403
    assert carer.get("/api/v1/caregivers/cg-2").status_code == 404
    # They may update their own contact details, not whether they are a grid worker.
    assert carer.patch("/api/v1/caregivers/cg-1", {"locale": "en"}).status_code == 200
    assert carer.patch("/api/v1/caregivers/cg-1", {"kind": "grid_worker"}).status_code == 403
    assert carer.get("/api/v1/gateways").status_code == 403


def test_resident_record_round_trip_and_validation(api: Api):
    district(api)
    admin = api.admin
    resident = admin.ok("get", "/api/v1/residents/r-1")
    assert resident["community_id"] == "c-xingfu"
    assert resident["caregivers"] == [{"caregiver_id": "cg-1", "priority": 1}]
    assert resident["care_plan"]["active_hours"] == {"start": "07:00", "end": "21:30"}
    assert resident["lives_alone"] is True

    bad_time = admin.patch(
        "/api/v1/residents/r-1", {"care_plan": {"active_hours": {"start": "25:00", "end": "21:00"}}}
    )
    assert bad_time.status_code == 422
    assert bad_time.json()["detail"][0]["loc"][-2:] == ["active_hours", "start"]
    old_unit = admin.patch("/api/v1/residents/r-1", {"care_plan": {"inactivity_minutes": 60}})
    assert old_unit.status_code == 422
    assert old_unit.json()["detail"][0]["loc"][-1] == "inactivity_minutes"
    orphan_label = admin.patch("/api/v1/residents/r-1", {"medication_labels": {"pm": "x"}})
    assert orphan_label.status_code == 422
    assert "pm is not a dose" in orphan_label.json()["detail"]
    unknown_carer = admin.patch("/api/v1/residents/r-1", {"caregivers": ["cg-404"]})
    assert unknown_carer.status_code == 422
    assert "cg-404" in unknown_carer.json()["detail"]
    nul = admin.patch("/api/v1/residents/r-1", {"address": "1号楼\x00"})
    assert nul.status_code == 422
    duplicate = admin.post(
        "/api/v1/residents",
        {"id": "r-1", "display_name": "x", "community_id": "c-xingfu"},
    )
    assert duplicate.status_code == 409

    updated = admin.ok(
        "patch",
        "/api/v1/residents/r-1",
        {"caregivers": ["cg-2", "cg-1"], "health_notes": "高血压\n独居", "flat": "f-0101"},
    )
    assert [c["caregiver_id"] for c in updated["caregivers"]] == ["cg-2", "cg-1"]
    assert updated["health_notes"] == "高血压\n独居"


def test_caregiver_channels_and_phone_are_never_returned(api: Api):
    district(api)
    admin = api.admin
    secret_url = "json://127.0.0.1:9/hook?+X-Token=very-secret-token"
    created = admin.ok(
        "post",
        "/api/v1/caregivers",
        {
            "id": "cg-3",
            "display_name": "网格员",
            "kind": "grid_worker",
            "channels": [secret_url],
            "phone": "+8613912345678",
        },
        201,
    )
    assert created["channel_count"] == 1
    assert created["has_phone"] is True
    listed = admin.get("/api/v1/caregivers").text
    audit = admin.get("/api/v1/audit").text
    for text in (str(created), listed, audit):
        assert "very-secret-token" not in text
        assert "13912345678" not in text
    bad = admin.post(
        "/api/v1/caregivers", {"id": "cg-4", "display_name": "x", "channels": ["nonsense"]}
    )
    assert bad.status_code == 422
    assert "channel 1" in bad.text


def test_wristband_lifecycle_register_reassign_retire(api: Api):
    district(api)
    admin = api.admin
    band = admin.ok(
        "post",
        "/api/v1/wristbands",
        {"mac": MAC.lower().replace(":", "-"), "bind_key": KEY, "resident_id": "r-1"},
        201,
    )
    assert band["mac"] == MAC
    assert band["community_id"] == "c-xingfu"
    assert "bind_key" not in band
    assert KEY not in admin.get(f"/api/v1/wristbands/{MAC}").text
    assert admin.ok("get", "/api/v1/residents/r-1")["wristband"] == MAC

    # At rest the key is encrypted, not the hex the staff typed.
    with api.fleet.sessions() as session:
        stored = session.execute(sa.select(Wristband.bind_key)).scalar_one()
    assert KEY not in stored
    assert api.fleet.vault.open(stored) == bytes.fromhex(KEY)

    assert admin.post("/api/v1/wristbands", {"mac": MAC, "bind_key": KEY}).status_code == 409
    second = admin.post(
        "/api/v1/wristbands",
        {"mac": "C2:00:00:00:00:02", "bind_key": "0123456789abcdef" * 2, "resident_id": "r-1"},
    )
    assert second.status_code == 409
    assert "already wears" in second.json()["detail"]
    assert admin.post("/api/v1/wristbands", {"mac": "nope", "bind_key": KEY}).status_code == 422
    blank = admin.post(
        "/api/v1/wristbands",
        {"mac": "C2:00:00:00:00:03", "bind_key": "0" * 32, "community_id": "c-xingfu"},
    )
    assert blank.status_code == 422
    assert "blank" in blank.json()["detail"]

    moved = admin.ok("post", f"/api/v1/wristbands/{MAC}/assign", {"resident_id": "r-2"})
    assert moved["resident_id"] == "r-2"
    assert moved["community_id"] == "c-nanhu"
    retired = admin.ok("post", f"/api/v1/wristbands/{MAC}/retire")
    assert retired["state"] == "retired"
    assert admin.ok("get", "/api/v1/residents/r-2")["wristband"] is None
    again = admin.post(f"/api/v1/wristbands/{MAC}/assign", {"resident_id": "r-1"})
    assert again.status_code == 409
    assert admin.post(f"/api/v1/wristbands/{MAC}/retire").status_code == 409


def test_caregiver_sees_their_residents_band_but_staff_of_another_town_do_not(api: Api):
    district(api)
    api.admin.ok(
        "post", "/api/v1/wristbands", {"mac": MAC, "bind_key": KEY, "resident_id": "r-1"}, 201
    )
    assert api.as_("cg-1", Role.CAREGIVER).get(f"/api/v1/wristbands/{MAC}").status_code == 200
    assert api.as_("cg-2", Role.CAREGIVER).get(f"/api/v1/wristbands/{MAC}").status_code == 404
    south = api.as_("staff-south", Role.STAFF, "t-south")
    assert south.get(f"/api/v1/wristbands/{MAC}").status_code == 404
    assert south.post(f"/api/v1/wristbands/{MAC}/retire").status_code == 404


def test_every_change_is_in_the_audit_log(api: Api):
    district(api)
    north = api.as_("staff-north", Role.STAFF, "t-north")
    north.ok("post", "/api/v1/wristbands", {"mac": MAC, "bind_key": KEY, "resident_id": "r-1"}, 201)
    north.ok("patch", "/api/v1/residents/r-1", {"address": "新地址"})
    entries = api.admin.ok("get", "/api/v1/audit")
    actions = [(e["actor"], e["action"], e["target"]) for e in entries]
    assert ("staff:staff-north", "wristband.register", MAC) in actions
    assert ("staff:staff-north", "resident.update", "r-1") in actions
    assert ("admin:root", "town.create", "t-north") in actions
    assert all(e["at"] for e in entries)
    assert KEY not in str(entries)
    assert north.get("/api/v1/audit").status_code == 403


def test_password_sign_in_gives_an_expiring_token_with_the_users_scope(api: Api):
    district(api)
    admin = api.admin
    admin.ok(
        "post",
        "/api/v1/users",
        {"id": "wang.li", "role": "staff", "town_id": "t-south", "password": "correct horse 1"},
        201,
    )
    wrong = api.client.post(
        "/api/v1/auth/token", data={"username": "wang.li", "password": "wrong password"}
    )
    assert wrong.status_code == 401
    nobody = api.client.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"})
    assert nobody.status_code == 401
    signed = api.client.post(
        "/api/v1/auth/token", data={"username": "wang.li", "password": "correct horse 1"}
    )
    assert signed.status_code == 200
    body = signed.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 12 * 3600
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = api.client.get("/api/v1/me", headers=headers).json()
    assert me == {"subject": "wang.li", "role": "staff", "town_id": "t-south"}
    residents = api.client.get("/api/v1/residents", headers=headers).json()
    assert [r["id"] for r in residents] == ["r-2"]

    admin.ok("patch", "/api/v1/users/wang.li", {"active": False})
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401
    assert (
        admin.post(
            "/api/v1/users", {"id": "x.y", "role": "staff", "password": "long enough 1"}
        ).status_code
        == 422
    )
    assert admin.post("/api/v1/users", {"id": "cg-9", "role": "caregiver"}).status_code == 422


def test_health_says_what_is_degraded_while_the_api_keeps_working(api: Api):
    health = api.client.get("/health").json()
    assert health["status"] == "degraded"
    assert health["database"] == "ok"
    assert health["broker"] == "unreachable (retrying)"
    assert health["influxdb"] in ("ok", "unreachable (retrying)")
    api.admin.ok("post", "/api/v1/towns", {"id": "t-up", "name": "still works"}, 201)
