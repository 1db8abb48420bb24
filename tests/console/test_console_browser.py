"""The health-center console in headless Chromium against a real fleet: sign-in, the
overview's figures, a new SOS appearing without a reload, acknowledging and resolving,
the CSV import's dry run, the language switch, and a caregiver's narrower view."""

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from contract import EventKind
from tests.console.world import CAREGIVER, RESIDENTS, STAFF, ConsoleWorld, band_mac

pytestmark = pytest.mark.browser

BEIJING = timezone(timedelta(hours=8))
# The console asks the fleet every 5 s; an alert is stored within a second of its event.
LIVE_TIMEOUT_MS = 15_000


def sign_in(page: Page, world: ConsoleWorld, user: tuple[str, str]) -> None:
    page.goto(f"{world.url}/")
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("#signin-submit")
    expect(page.locator("#nav-overview")).to_be_visible()


def beijing(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def api(world: ConsoleWorld, path: str) -> Any:
    response = world.admin.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def test_staff_sign_in_and_the_overview_shows_the_fleets_figures(page: Page, world: ConsoleWorld):
    page.goto(f"{world.url}/")
    expect(page).to_have_url(re.compile(r"/console/$"))
    page.fill("#username", STAFF[0])
    page.fill("#password", "not the password")
    page.click("#signin-submit")
    expect(page.locator("#signin-error")).to_contain_text("wrong user name or password")

    page.fill("#password", STAFF[1])
    page.click("#signin-submit")
    expect(page.locator("#who")).to_contain_text("wang.li")
    # The token stays in this tab's session storage: not in the URL, not kept on disk.
    storage = page.evaluate(
        "[sessionStorage.getItem('sg.token'), localStorage.getItem('sg.token')]"
    )
    assert storage[0].startswith("sg_")
    assert storage[1] is None
    assert "sg_" not in page.url

    counts = api(world, "/api/v1/overview")
    for severity, n in counts["unresolved_by_severity"].items():
        expect(page.locator(f"#kpi-severity-{severity} strong")).to_have_text(str(n))
    assert counts["unresolved_by_severity"]["high"] >= 1  # r-5's inactivity, at least
    battery = api(world, "/api/v1/battery")
    low = sum(b["low"] for b in battery["bands"])
    not_heard = sum(b["not_heard"] and b["resident_id"] is not None for b in battery["bands"])
    assert low == 1  # r-5's band at 15 %
    assert not_heard == 1  # r-4's band never reported
    expect(page.locator("#kpi-battery .value")).to_have_text(str(low))
    expect(page.locator("#kpi-not-heard .value")).to_have_text(str(not_heard))
    expect(page.locator("#kpi-gateways .value")).to_have_text("1 / 2")  # gw-01 of gw-01, gw-02
    expect(page.locator("#kpi-sla")).to_be_visible()

    # The gateways page: gw-01's retained status, heartbeat and outbox backlog.
    page.click("#nav-gateways")
    row = page.locator("tr[data-gateway='gw-01']")
    expect(row).to_have_attribute("data-connection", "online")
    expect(row).to_contain_text("2 / 14")
    expect(row).to_contain_text("2 小时 1 分")  # uptime 7260 s
    expect(page.locator("tr[data-gateway='gw-02']")).to_have_attribute("data-connection", "unknown")

    # The battery page: the band draining four times faster than its peers comes first.
    page.click("#nav-battery")
    first = page.locator("#battery-list tbody tr").first
    expect(first).to_have_attribute("data-mac", band_mac(6))
    expect(first).to_contain_text("耗电异常")
    expect(first).to_contain_text(RESIDENTS["r-6"][0])
    expect(page.locator(f"tr[data-mac='{band_mac(5)}']")).to_contain_text("电量低")


def test_a_new_sos_appears_without_a_reload_and_is_handled_from_the_console(
    page: Page, world: ConsoleWorld
):
    sign_in(page, world, STAFF)
    page.click("#nav-alerts")
    expect(page.locator("#alert-list table")).to_be_visible()
    page.evaluate("window.__stillTheSamePage = true")
    name = RESIDENTS["r-3"][0]
    assert page.locator("#alert-list tr", has_text=name).count() == 0

    world.raise_event(3, EventKind.SOS, 1)
    row = page.locator("#alert-list tbody tr", has_text=name)
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.__stillTheSamePage") is True  # no reload happened
    expect(row).to_contain_text("紧急求助（SOS）")
    expect(row).to_contain_text("新")  # marked as new
    expect(row).to_have_class(re.compile(r"sev-row-critical"))
    alert = world.wait_alert("r-3")
    expect(row.locator("td").first).to_contain_text(beijing(alert["opened_at"]))

    row.locator("a.alert-link").click()
    expect(page.locator("#alert-title")).to_contain_text(f"#{alert['id']}")
    timeline = page.locator("#alert-timeline")
    expect(timeline.locator("tr[data-action='opened']")).to_contain_text("紧急求助（SOS）")
    # The caregiver's channel took the message: the delivery shows on the timeline.
    expect(timeline.locator("tr[data-action='delivered']")).to_contain_text(
        f"{name}的家属", timeout=LIVE_TIMEOUT_MS
    )

    page.click("#acknowledge")
    expect(timeline.locator("tr[data-action='acknowledged']")).to_contain_text("通过控制台")
    acknowledged = api(world, f"/api/v1/alerts/{alert['id']}")
    assert acknowledged["state"] == "acknowledged"
    assert acknowledged["acknowledged_by"] == f"staff:{STAFF[0]}"
    expect(page.locator("#acknowledge")).to_have_count(0)

    page.select_option("#resolve-outcome", "attended")
    page.fill("#resolve-note", "已上门查看，老人无碍")
    page.click("#resolve")
    expect(timeline.locator("tr[data-action='resolved']")).to_contain_text("已上门处理")
    resolved = api(world, f"/api/v1/alerts/{alert['id']}")
    assert resolved["state"] == "resolved"
    assert resolved["outcome"] == "attended"
    assert resolved["note"] == "已上门查看，老人无碍"
    # Gone from the list of unresolved alerts, without a reload either.
    expect(page.locator("#alert-list tbody tr", has_text=name)).to_have_count(0)
    assert page.evaluate("window.__stillTheSamePage") is True


BAD_CSV = (
    "mac,bind_key,community_id,resident_id,firmware\n"
    "D4:00:00:00:00:01,0f1e2d3c4b5a69788796a5b4c3d2e1f0,c-xingfu,,1.5.0\n"
    "D4:00:00:00:0G:02,1f1e2d3c4b5a69788796a5b4c3d2e1f0,c-xingfu,,1.5.0\n"
    "D4:00:00:00:00:03,2f1e2d3c4b5a69788796a5b4c3d2e1f0,c-xingfu,r-404,1.5.0\n"
)
GOOD_CSV = (
    "mac,bind_key,community_id,resident_id,firmware\n"
    "D4:00:00:00:00:01,0f1e2d3c4b5a69788796a5b4c3d2e1f0,c-xingfu,,1.5.0\n"
    "D4:00:00:00:00:02,1f1e2d3c4b5a69788796a5b4c3d2e1f0,c-xingfu,,1.5.0\n"
    "D4:00:00:00:00:03,2f1e2d3c4b5a69788796a5b4c3d2e1f0,c-xingfu,,1.5.0\n"
)


def test_the_csv_dry_run_shows_each_bad_row_and_a_good_file_adds_the_bands(
    page: Page, world: ConsoleWorld
):
    sign_in(page, world, STAFF)
    page.click("#nav-wristbands")
    expect(page.locator("#band-list tbody tr").first).to_be_visible()

    page.set_input_files(
        "#import-file", {"name": "bands.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}
    )
    page.click("#import-check")
    expect(page.locator("#import-summary")).to_contain_text("共 3 行：1 行无误，2 行有错误")
    expect(page.locator("#import-report tr[data-row='3']")).to_contain_text("not a MAC address")
    expect(page.locator("#import-report tr[data-row='4']")).to_contain_text("r-404")
    expect(page.locator("#import-apply")).to_be_disabled()
    assert not any(b["mac"].startswith("D4") for b in api(world, "/api/v1/wristbands"))

    page.set_input_files(
        "#import-file",
        {"name": "bands-fixed.csv", "mimeType": "text/csv", "buffer": GOOD_CSV.encode()},
    )
    expect(page.locator("#import-apply")).to_be_disabled()  # a new file: check it first
    page.click("#import-check")
    expect(page.locator("#import-summary")).to_contain_text("共 3 行：3 行无误，0 行有错误")
    expect(page.locator("#import-apply")).to_be_enabled()
    page.click("#import-apply")
    expect(page.locator("#import-done")).to_contain_text("已导入 3 只手环")
    imported = sorted(
        b["mac"] for b in api(world, "/api/v1/wristbands") if b["mac"].startswith("D4")
    )
    assert imported == [f"D4:00:00:00:00:0{i}" for i in (1, 2, 3)]
    for mac in imported:
        expect(page.locator(f"#band-list tr[data-mac='{mac}']")).to_contain_text("库存")


@pytest.mark.parametrize("locale", ["en-US"], indirect=True)
def test_the_language_follows_the_browser_and_the_switch_sticks(page: Page, world: ConsoleWorld):
    sign_in(page, world, STAFF)
    expect(page.locator("#nav-overview")).to_have_text("Overview")
    expect(page.locator("#kpi-alerts h2")).to_have_text("Alerts not yet resolved")

    page.click("#language")
    expect(page.locator("#nav-overview")).to_have_text("概览")
    expect(page.locator("#nav-alerts")).to_have_text("告警")
    expect(page.locator("#kpi-alerts h2")).to_have_text("未结案告警")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"

    # Rendered with a CJK font, not as empty boxes: two different characters draw
    # different glyphs, and neither is the box drawn for a character no font has.
    glyphs = page.evaluate(
        """(selector) => {
            const style = getComputedStyle(document.querySelector(selector));
            const draw = (ch) => {
                const canvas = document.createElement("canvas");
                canvas.width = canvas.height = 64;
                const g = canvas.getContext("2d");
                g.font = `48px ${style.fontFamily}`;
                g.textBaseline = "top";
                g.fillText(ch, 4, 4);
                const data = g.getImageData(0, 0, 64, 64).data;
                let ink = 0, print = 0;
                for (let i = 3; i < data.length; i += 4) {
                    if (data[i] > 128) { ink += 1; print = (print * 31 + i) % 1000000007; }
                }
                return [ink, print];
            };
            return {gai: draw("概"), lan: draw("览"), none: draw("\\uE000"),
                    width: document.querySelector(selector).getBoundingClientRect().width};
        }""",
        "#nav-overview",
    )
    assert glyphs["width"] > 0
    assert glyphs["gai"][0] > 50
    assert glyphs["lan"][0] > 50
    assert glyphs["gai"] != glyphs["lan"]
    assert glyphs["gai"] != glyphs["none"]

    # The choice is remembered: a reload keeps Chinese (and this tab's sign-in).
    page.reload()
    expect(page.locator("#nav-overview")).to_have_text("概览")
    page.click("#language")
    expect(page.locator("#nav-overview")).to_have_text("Overview")


def test_a_caregiver_sees_only_their_own_residents(page: Page, world: ConsoleWorld):
    own, other = RESIDENTS["r-1"][0], RESIDENTS["r-2"][0]
    world.raise_event(2, EventKind.FALL, 1)
    world.raise_event(1, EventKind.FALL, 1)
    theirs = world.wait_alert("r-1")
    not_theirs = world.wait_alert("r-2")

    sign_in(page, world, CAREGIVER)
    expect(page.locator("#who")).to_contain_text("照护人")
    expect(page.locator("#nav-gateways")).to_have_count(0)  # staff only
    expect(page.locator("#kpi-alerts")).to_be_visible()
    expect(page.locator("#kpi-sla")).to_have_count(0)

    page.click("#nav-alerts")
    expect(page.locator(f"#alert-list tr[data-alert-id='{theirs['id']}']")).to_contain_text(own)
    expect(page.locator(f"#alert-list tr[data-alert-id='{not_theirs['id']}']")).to_have_count(0)
    assert other not in page.locator("main").inner_text()

    # Asking for the other resident's alert by its number shows nothing of it.
    page.goto(f"{world.url}/console/#/alerts/{not_theirs['id']}")
    expect(page.locator("#alert-detail")).to_contain_text("not found")
    assert other not in page.locator("main").inner_text()

    page.click("#nav-wristbands")
    expect(page.locator("#band-list tbody tr")).to_have_count(1)
    expect(page.locator(f"#band-list tr[data-mac='{band_mac(1)}']")).to_contain_text(own)
    expect(page.locator("#import-form")).to_have_count(0)
    expect(page.locator("#register-form")).to_have_count(0)


def test_a_lost_connection_is_shown_and_the_console_recovers_by_itself(
    page: Page, world: ConsoleWorld
):
    sign_in(page, world, STAFF)
    expect(page.locator("#kpi-alerts")).to_be_visible()
    expect(page.locator("#offline")).to_be_hidden()
    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    # Coming back to the tab asks at once instead of at the next 5-second tick.
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#kpi-alerts")).to_be_visible()  # the last figures stay on screen
    page.unroute("**/api/v1/**")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("#offline")).to_be_hidden()
    expect(page.locator("#who")).to_contain_text("wang.li")  # still signed in
