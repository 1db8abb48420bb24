"""The console at the district's size, in headless Chromium against a real fleet: paging
through 867 residents, searching and exporting them; a resident's page with the band's
figures from a real InfluxDB; editing the care plan (a refused value names its field)
and seeing the gateway report it applied. Screenshots go to the test artifacts dir."""

import csv
import io
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from contract import EventKind, Severity, Topic, TopicKind, encode
from contract.config import ConfigReport
from fleet.db.models import Resident
from fleet.db.session import make_engine, make_sessionmaker, utcnow
from tests.console.world import (
    CAREGIVER,
    COMMUNITY,
    RESIDENTS,
    STAFF,
    ConsoleWorld,
    band_mac,
)

pytestmark = pytest.mark.browser

DISTRICT = 867
BEIJING = timezone(timedelta(hours=8))
ARTIFACTS = Path(os.environ.get("SG_TEST_ARTIFACTS", "test-artifacts")) / "console"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    """The console tests' district grown to 867 residents (861 written straight into the
    registry the fleet serves), r-1's band heard by gw-01 and an open SOS for r-1."""
    world = ConsoleWorld.start(tmp_path_factory.mktemp("district"))
    try:
        engine = make_engine(f"sqlite:///{world.workdir / 'fleet' / 'registry.db'}")
        with make_sessionmaker(engine).begin() as session:
            for i in range(DISTRICT - len(RESIDENTS)):
                session.add(
                    Resident(
                        id=f"r-d{i:04d}",
                        display_name=f"居民{i:04d}",
                        address=f"幸福社区{i % 40 + 1}号楼{i % 6 + 1}单元",
                        community_id=COMMUNITY,
                        settings={},
                        created_at=utcnow(),
                    )
                )
        engine.dispose()
        now = time.time()
        world.write_battery(
            {band_mac(1): [(now - 3600 * h, 60 + h // 4) for h in range(48, 0, -1)]}
        )
        steps = [  # r-1 walks: each day the count is 2,000 higher at 19:00 than at 08:00
            f"wristband,device={band_mac(1)},gateway=gw-01 steps={count}i {int(at)}"
            for d in range(1, 8)
            for count, at in ((100, beijing(d, 8)), (2100, beijing(d, 19)))
        ]
        world.write_lines(
            [f"wristband,device={band_mac(1)},gateway=gw-01 rssi=-63i {int(now - 30)}", *steps]
        )
        world.raise_event(1, EventKind.SOS, 7, Severity.CRITICAL)
        world.wait_alert("r-1")
        yield world
    finally:
        world.stop()


def beijing(days_ago: int, hour: int) -> float:
    """A Beijing local time on a day before today, in Unix seconds."""
    day = datetime.now(BEIJING).date() - timedelta(days=days_ago)
    return datetime.combine(day, dtime(hour), BEIJING).timestamp()


def sign_in(page: Page, world: ConsoleWorld) -> None:
    page.goto(f"{world.url}/")
    page.fill("#username", STAFF[0])
    page.fill("#password", STAFF[1])
    page.click("#signin-submit")
    expect(page.locator("#nav-overview")).to_be_visible()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_paging_through_867_residents_in_the_browser(page: Page, world: ConsoleWorld):
    sign_in(page, world)
    page.click("#nav-residents")
    status = page.locator("#resident-list-status")
    expect(status).to_have_text(f"第 1–50 条，共 {DISTRICT} 条")
    expect(page.locator("#resident-list tbody tr")).to_have_count(50)
    shot(page, "residents-first-page")

    page.select_option("#resident-list-size", "100")
    seen: list[str] = []
    for n in range(9):
        expect(status).to_have_text(
            f"第 {n * 100 + 1}–{min(n * 100 + 100, DISTRICT)} 条，共 {DISTRICT} 条"
        )
        seen += page.locator("#resident-list tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.resident)"
        )
        if n < 8:
            page.click("#resident-list-next")
    assert len(seen) == DISTRICT == len(set(seen))
    expect(page.locator("#resident-list-next")).to_be_disabled()
    page.click("#resident-list-prev")
    expect(status).to_have_text(f"第 701–800 条，共 {DISTRICT} 条")

    # Sorted by the fleet: name descending puts the highest-numbered resident first.
    page.click("#resident-list th button[data-sort='name']")  # was ascending
    expect(page.locator("#resident-list th[aria-sort='descending']")).to_have_count(1)
    expect(page.locator("#resident-list tbody tr").first).to_contain_text("陈淑珍")

    page.fill("#resident-list-q", "居民086")
    expect(status).to_have_text("第 1–1 条，共 1 条")
    expect(page.locator("#resident-list tbody tr")).to_contain_text("居民0860")
    page.fill("#resident-list-q", "居民08")
    expect(status).to_have_text("第 1–61 条，共 61 条")  # 居民0800 … 居民0860

    with page.expect_download() as download:
        page.click("#resident-list-csv")
    path = download.value.path()
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert rows[0][:2] == ["id", "name"]
    assert len(rows) == 1 + 61
    assert rows[1][1] == "居民0860"  # the list's order: name, descending


def test_the_resident_page_from_an_alert_with_band_contacts_and_alerts(
    page: Page, world: ConsoleWorld
):
    name = RESIDENTS["r-1"][0]
    sign_in(page, world)
    page.click("#nav-alerts")
    row = page.locator("#alert-list tbody tr", has_text=name).first
    row.locator("a.resident-link").click()
    expect(page).to_have_url(f"{world.url}/console/#/resident/r-1")
    expect(page.locator("#resident-name")).to_have_text(name)
    expect(page.locator("#resident-name")).to_have_attribute("title", "r-1")  # id on hover
    expect(page.locator("#resident-address")).to_contain_text("幸福社区3号楼101室")
    expect(page.locator("#resident-caregivers")).to_contain_text(f"{name}的家属")
    expect(page.locator("#resident-battery")).to_contain_text("60%")
    expect(page.locator("#resident-best-gateway")).to_have_text("gw-01")
    expect(page.locator("#resident-signal")).to_have_text("-63 dBm")
    expect(page.locator("#resident-open-alerts tbody tr")).to_contain_text("紧急求助（SOS）")

    # Charts from the real InfluxDB: steps drawn, with the figures in a table as well;
    # the flat has no meters, which is said in words instead of an empty axis.
    steps = page.locator("#chart-steps")
    expect(steps).to_have_attribute("data-drawn", "true")
    expect(steps.locator("canvas")).to_have_count(1)
    steps.locator("details summary").click()  # the figures behind the curve, as a table
    expect(steps.locator("details table tbody")).to_contain_text("2,000")
    expect(page.locator("#chart-water .chart-empty")).to_contain_text("没有水表读数")
    expect(page.locator("#chart-water canvas")).to_have_count(0)
    expect(page.locator("#chart-battery")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#battery-forecast")).to_contain_text("预计")
    page.click("#charts-90")
    expect(page.locator("#charts-90")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#chart-steps")).to_have_attribute("data-drawn", "true")
    page.locator("#resident-charts").scroll_into_view_if_needed()
    shot(page, "resident-page")


def test_editing_a_care_plan_a_refused_field_is_named_then_the_gateway_applies_it(
    page: Page, world: ConsoleWorld
):
    sign_in(page, world)
    page.goto(f"{world.url}/console/#/resident/r-2")
    expect(page.locator("#resident-name")).to_have_text(RESIDENTS["r-2"][0])

    page.fill("#plan-inactivity", "5")  # shorter than any gateway accepts (15 min)
    page.click("#plan-save")
    message = page.locator("#plan-message")
    expect(message).to_contain_text("无活动报警时长")
    expect(message).to_have_attribute("data-field", "inactivity_s")
    expect(page.locator("#plan-inactivity")).to_have_attribute("aria-invalid", "true")
    shot(page, "care-plan-refused")

    before = world.admin.get("/api/v1/residents/r-2/overview").json()
    desired_before = before["gateways"][0]["desired_version"]
    page.fill("#plan-inactivity", "120")
    page.fill("#plan-start", "06:30")
    page.fill("#plan-end", "21:00")
    page.click("#plan-add-dose")
    page.locator("#plan-doses tr").last.locator(".dose-id").fill("am")
    page.locator("#plan-doses tr").last.locator(".dose-time").fill("08:00")
    page.locator("#plan-doses tr").last.locator(".dose-label").fill("降压药")
    page.click("#plan-save")
    expect(message).to_contain_text("已保存")
    stored = world.admin.get("/api/v1/residents/r-2").json()
    assert stored["care_plan"]["inactivity_s"] == 7200
    assert stored["care_plan"]["active_hours"] == {"start": "06:30", "end": "21:00"}
    assert stored["medication_labels"] == {"am": "降压药"}

    gw = page.locator("#plan-delivery tr[data-gateway='gw-01']")
    desired = world.admin.get("/api/v1/residents/r-2/overview").json()["gateways"][0]
    assert desired["desired_version"] > desired_before
    expect(gw).to_have_attribute("data-in-sync", "false")
    expect(gw.locator("td").nth(1)).to_have_text(str(desired["desired_version"]))

    # The gateway applies it and says so on its config/reported topic.
    report = ConfigReport(gateway="gw-01", version=desired["desired_version"], ok=True)
    world.publish_as_gateway(str(Topic("gw-01", TopicKind.CONFIG_REPORTED)), encode(report))
    expect(gw).to_have_attribute("data-in-sync", "true", timeout=15_000)
    expect(gw).to_contain_text("已生效")
    shot(page, "care-plan-applied")


def test_an_sos_arrives_live_over_server_sent_events(page: Page, world: ConsoleWorld):
    sign_in(page, world)
    page.click("#nav-alerts")
    # The stream is up: the console now polls only once a minute, so what follows
    # arrives by the push and not by a poll.
    expect(page.locator("#live")).to_have_attribute("data-live", "sse")
    expect(page.locator("#alert-list table")).to_be_visible()
    page.evaluate("window.__stillTheSamePage = true")
    name = RESIDENTS["r-4"][0]
    expect(page.locator("#alert-list tbody tr", has_text=name)).to_have_count(0)

    started = time.monotonic()
    world.raise_event(4, EventKind.SOS, 11, Severity.CRITICAL)
    row = page.locator("#alert-list tbody tr", has_text=name)
    expect(row).to_be_visible(timeout=10_000)
    arrived = time.monotonic() - started
    assert arrived < 10, arrived
    assert page.evaluate("window.__stillTheSamePage") is True
    expect(row).to_contain_text("紧急求助（SOS）")
    # The tab's title flashes with who and what, until someone is at the console.
    page.wait_for_function("document.title.includes('紧急') && document.title.includes('刘德华')")
    expect(page.locator("#open-alerts")).to_contain_text("未处理告警")
    shot(page, "sos-live")
    page.keyboard.press("Escape")
    page.wait_for_function("!document.title.includes('紧急')")

    # Muting is remembered; the control says its state.
    page.click("#mute")
    expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("localStorage.getItem('sg.mute')") == "1"


def test_the_alert_stream_carries_only_what_the_caller_may_see(world: ConsoleWorld):
    """A caregiver's stream: their resident's alert changes, never another resident's."""
    token = httpx.post(
        f"{world.url}/api/v1/auth/token",
        data={"username": CAREGIVER[0], "password": CAREGIVER[1]},
    ).json()["access_token"]
    events: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream(
        "GET",
        f"{world.url}/api/v1/alerts/stream",
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(30.0),
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        name = None
        raised = False
        deadline = time.monotonic() + 30
        for line in lines:
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name or "message", json.loads(line.split(":", 1)[1])))
                if name == "ready" and not raised:
                    # Another resident's SOS first, then one of the caregiver's own (r-1).
                    world.raise_event(2, EventKind.SOS, 31, Severity.CRITICAL)
                    world.wait_alert("r-2")
                    world.raise_event(1, EventKind.SOS, 32, Severity.CRITICAL)
                    raised = True
                if any(d.get("resident_id") == "r-1" for n, d in events if n == "alert"):
                    break
            assert time.monotonic() < deadline, events
    alerts = [data for name, data in events if name == "alert"]
    assert alerts
    assert {a["resident_id"] for a in alerts} == {"r-1"}
    assert alerts[0]["resident_name"] == RESIDENTS["r-1"][0]
