"""Lists that scale: paging, sorting, filtering and CSV export of the console's lists
(residents, wristbands, alerts), each in the caller's scope, with people named."""

import csv
import io

import pytest

from contract import EventKind, Severity
from fleet.alerts import service
from fleet.api.paging import neutralise
from fleet.auth import Role
from fleet.db.models import Resident, Wristband
from fleet.db.session import utcnow
from tests.fleet.alerting_seed import band_event
from tests.fleet.helpers import Api, district

MANY = 130  # residents added to c-xingfu (t-north) besides the district's two


@pytest.fixture
def crowd(api: Api) -> Api:
    district(api)
    now = utcnow()
    with api.fleet.sessions.begin() as session:
        for i in range(MANY):
            session.add(
                Resident(
                    id=f"r-x{i:04d}",
                    display_name=f"居民X{i:04d}",
                    address=f"幸福社区{i % 7}号楼",
                    community_id="c-xingfu",
                    settings={},
                    created_at=now,
                )
            )
        # Someone typed a formula where the address goes.
        session.add(
            Resident(
                id="r-formula",
                display_name="-刘 formula",
                address='=HYPERLINK("http://evil.example","点我")',
                community_id="c-xingfu",
                settings={},
                created_at=now,
            )
        )
    return api


def test_residents_page_through_without_overlap_and_count_in_a_header(crowd: Api):
    seen: list[str] = []
    offset = 0
    while True:
        response = crowd.admin.get(f"/api/v1/residents?limit=50&offset={offset}&sort=name")
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == str(MANY + 3)
        page = response.json()
        if not page:
            break
        assert len(page) <= 50
        seen += [r["id"] for r in page]
        offset += 50
    assert len(seen) == MANY + 3 == len(set(seen))
    names = [r["display_name"] for r in crowd.admin.ok("get", "/api/v1/residents?sort=name")]
    assert names == sorted(names)
    backwards = crowd.admin.ok("get", "/api/v1/residents?sort=-name&limit=3")
    assert [r["display_name"] for r in backwards] == sorted(names, reverse=True)[:3]


def test_residents_filter_by_community_and_search_text_in_the_callers_scope(crowd: Api):
    response = crowd.admin.get("/api/v1/residents?q=x012&limit=5")
    assert response.headers["X-Total-Count"] == "10"  # r-x0120 … r-x0129
    assert all("X012" in r["display_name"] for r in response.json())
    # A LIKE wildcard is taken literally.
    assert crowd.admin.get("/api/v1/residents?q=%25").headers["X-Total-Count"] == "0"
    south = crowd.admin.get("/api/v1/residents?community_id=c-nanhu")
    assert [r["id"] for r in south.json()] == ["r-2"]
    # Staff of the south town: none of the north's crowd, whatever they search.
    staff = crowd.as_("li.nan", Role.STAFF, town_id="t-south")
    response = staff.get("/api/v1/residents?q=居民")
    assert response.headers["X-Total-Count"] == "1"
    assert [r["id"] for r in response.json()] == ["r-2"]


def test_an_unknown_sort_column_is_refused_with_the_ones_that_exist(crowd: Api):
    response = crowd.admin.get("/api/v1/residents?sort=password")
    assert response.status_code == 422
    assert "name" in response.json()["detail"]


def test_residents_csv_has_every_match_with_formulas_neutralised(crowd: Api):
    response = crowd.admin.get("/api/v1/residents?format=csv&q=formula")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["id", "name", "community"]
    assert len(rows) == 2
    assert rows[1][1] == "'-刘 formula"
    assert rows[1][4].startswith("'=HYPERLINK(")
    everything = crowd.admin.get("/api/v1/residents?format=csv&limit=5")
    assert len(everything.content.decode("utf-8-sig").strip().splitlines()) == MANY + 3 + 1


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+86138", "'+86138"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("王秀英", "王秀英"),
        (None, ""),
        (12.5, "12.5"),
    ],
)
def test_a_cell_a_spreadsheet_would_evaluate_is_kept_as_text(cell: object, shown: str):
    assert neutralise(cell) == shown


def test_wristbands_page_with_the_wearers_name_and_search_by_name(api: Api):
    district(api)
    for i in range(1, 13):
        body = {
            "mac": f"C2:00:00:00:01:{i:02X}",
            "bind_key": f"{i:04x}" + "00112233445566778899aabbccdd",
            **({"resident_id": "r-1"} if i == 1 else {"community_id": "c-xingfu"}),
        }
        api.admin.ok("post", "/api/v1/wristbands", body, 201)
    response = api.admin.get("/api/v1/wristbands?limit=5&offset=10")
    assert response.headers["X-Total-Count"] == "12"
    assert len(response.json()) == 2
    found = api.admin.ok("get", "/api/v1/wristbands?q=居民1")
    assert [(b["mac"], b["resident_name"]) for b in found] == [("C2:00:00:00:01:01", "居民1")]
    with api.fleet.sessions.begin() as session:
        band = session.get(Wristband, "C2:00:00:00:01:02")
        assert band is not None
        band.state = "retired"
    retired = api.admin.get("/api/v1/wristbands?state=retired")
    assert retired.headers["X-Total-Count"] == "1"


def test_alerts_filter_by_several_states_and_name_who_handled_them(api: Api):
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
    with api.fleet.sessions.begin() as session:
        for key, kind in enumerate((EventKind.SOS, EventKind.INACTIVITY, EventKind.MISSED_DOSE)):
            service.record_event(
                session,
                band_event("C2:00:00:00:00:01", kind, key=key, severity=Severity.CRITICAL),
                utcnow(),
            )
    alerts = api.admin.ok("get", "/api/v1/alerts")
    assert len(alerts) == 3
    assert {a["resident_name"] for a in alerts} == {"居民1"}
    caregiver = api.as_("cg-1", Role.CAREGIVER)
    caregiver.ok("post", f"/api/v1/alerts/{alerts[0]['id']}/ack")
    api.admin.ok("post", f"/api/v1/alerts/{alerts[1]['id']}/resolve", {"outcome": "attended"})

    response = api.admin.get("/api/v1/alerts?state=open&state=notified&state=acknowledged")
    assert response.headers["X-Total-Count"] == "2"
    acked = next(a for a in response.json() if a["id"] == alerts[0]["id"])
    assert acked["acknowledged_by"] == "caregiver:cg-1"
    assert acked["acknowledged_by_name"] == "照护人1"
    detail = api.admin.ok("get", f"/api/v1/alerts/{alerts[0]['id']}")
    entry = next(e for e in detail["timeline"] if e["action"] == "acknowledged")
    assert entry["actor_name"] == "照护人1"

    first = api.admin.get("/api/v1/alerts?limit=1&offset=0&sort=id")
    assert first.headers["X-Total-Count"] == "3"
    assert first.json()[0]["id"] == min(a["id"] for a in alerts)
    nobody = api.as_("cg-2", Role.CAREGIVER).get("/api/v1/alerts?q=居民")
    assert nobody.headers["X-Total-Count"] == "0"
    exported = api.admin.get("/api/v1/alerts?format=csv&state=acknowledged")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][rows[0].index("acknowledged_by")] == "照护人1"


def test_residents_and_alerts_filter_by_grid(crowd: Api):
    crowd.admin.ok(
        "post", "/api/v1/grids", {"id": "g-east", "community_id": "c-xingfu", "name": "东网格"}, 201
    )
    for resident_id in ("r-1", "r-x0001", "r-x0002"):
        crowd.admin.ok("patch", f"/api/v1/residents/{resident_id}", {"grid_id": "g-east"})
    response = crowd.admin.get("/api/v1/residents?grid_id=g-east&sort=id")
    assert response.headers["X-Total-Count"] == "3"
    assert [r["id"] for r in response.json()] == ["r-1", "r-x0001", "r-x0002"]
    crowd.admin.ok(
        "post",
        "/api/v1/wristbands",
        {
            "mac": "C2:00:00:00:00:01",
            "bind_key": "0001" + "00112233445566778899aabbccdd",
            "resident_id": "r-1",
        },
        201,
    )
    with crowd.fleet.sessions.begin() as session:
        service.record_event(session, band_event("C2:00:00:00:00:01", EventKind.SOS), utcnow())
    assert crowd.admin.get("/api/v1/alerts?grid_id=g-east").headers["X-Total-Count"] == "1"
    assert crowd.admin.get("/api/v1/alerts?grid_id=g-none").headers["X-Total-Count"] == "0"
    bands = crowd.admin.get("/api/v1/wristbands?grid_id=g-east")
    assert [b["mac"] for b in bands.json()] == ["C2:00:00:00:00:01"]


def test_battery_pages_filters_and_exports_with_an_audit_entry(api: Api):
    district(api)
    for i in range(1, 6):
        api.admin.ok(
            "post",
            "/api/v1/wristbands",
            {
                "mac": f"C2:00:00:00:02:{i:02X}",
                "bind_key": f"{i:04x}" + "00112233445566778899aabbccdd",
                **({"resident_id": "r-1"} if i == 1 else {"community_id": "c-xingfu"}),
            },
            201,
        )
    # No InfluxDB here: every band is listed, "not heard", and the list still pages.
    response = api.admin.get("/api/v1/battery?limit=2&offset=2&sort=mac")
    assert response.headers["X-Total-Count"] == "5"
    assert response.json()["total"] == 5
    assert [b["mac"] for b in response.json()["bands"]] == [
        "C2:00:00:00:02:03",
        "C2:00:00:00:02:04",
    ]
    found = api.admin.ok("get", "/api/v1/battery?q=居民1")
    assert [(b["mac"], b["resident_name"]) for b in found["bands"]] == [
        ("C2:00:00:00:02:01", "居民1")
    ]
    assert api.admin.ok("get", "/api/v1/battery?flag=low")["bands"] == []
    exported = api.admin.get("/api/v1/battery?format=csv&flag=not_heard")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + 5
    assert rows[1][rows[0].index("flags")] == "not_heard"
    log = api.admin.ok("get", "/api/v1/audit?limit=5")
    assert any(entry["action"] == "battery.export" for entry in log)
