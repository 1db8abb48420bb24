"""Closing the loop in headless Chromium against a real fleet: the grid worker's phone
page at a phone's viewport (390x844) — a fall raised by the gateway, the task sent to
the grid worker, who sees address, key holder, care notes and call buttons, sets off,
checks in with the phone's position and records the outcome, which closes it; the
console's Dispatch page (open tasks, time to arrive, the month's CSV) and Risk board
(tags with evidence, the week's visit list, a visit recorded)."""

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from contract import EventKind
from tests.console.world import STAFF, ConsoleWorld, _ok

pytestmark = pytest.mark.browser

WORKER = ("w-li", "grid-worker-pass-1")
PHONE = {"width": 390, "height": 844}
HERE = {"latitude": 34.7466, "longitude": 113.6253}  # the worker, a few hundred metres away


def _seed_worker(world: ConsoleWorld) -> None:
    api = world.admin
    if api.get(f"/api/v1/caregivers/{WORKER[0]}").status_code == 200:
        return
    _ok(
        api.post(
            "/api/v1/caregivers",
            json={
                "id": WORKER[0],
                "display_name": "网格员李明",
                "kind": "grid_worker",
                "channels": [world.receiver.url(WORKER[0])],
                "phone": "+8613900000001",
                "town_id": "t-demo",
            },
        )
    )
    _ok(
        api.post(
            "/api/v1/users", json={"id": WORKER[0], "role": "caregiver", "password": WORKER[1]}
        )
    )
    _ok(
        api.post(
            "/api/v1/grids",
            json={
                "id": "g-1",
                "community_id": "c-xingfu",
                "name": "一网格",
                "worker_id": WORKER[0],
            },
        )
    )
    _ok(
        api.patch(
            "/api/v1/residents/r-3",
            json={
                "grid_id": "g-1",
                "key_holder": "邻居赵阿姨 302室",
                "key_holder_phone": "+8613900000302",
                "phone": "+8613700000003",
                "health_notes": "高血压；左腿行动不便",
                "flat": "f-3-301",
            },
        )
    )
    _ok(api.patch("/api/v1/gateways/gw-01", json={"latitude": 34.7480, "longitude": 113.6290}))


def _task_of(world: ConsoleWorld, alert_id: int) -> dict[str, Any]:
    tasks = _ok(world.admin.get("/api/v1/tasks?limit=1000"))
    return next(t for t in tasks if t["alert_id"] == alert_id)


@pytest.fixture
def phone(browser: Browser) -> Page:
    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        geolocation=HERE,
        permissions=["geolocation"],
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield page
    context.close()
    assert problems == [], problems


def test_the_grid_worker_takes_a_fall_from_their_phone(
    phone: Page, world: ConsoleWorld, tmp_path: Path
):
    _seed_worker(world)
    world.raise_event(3, EventKind.FALL, 31)
    alert = world.wait_alert("r-3")
    _ok(world.admin.post(f"/api/v1/alerts/{alert['id']}/task/assign", json={"contact_id": "w-li"}))
    task = _task_of(world, alert["id"])

    phone.goto(f"{world.url}/console/phone.html")
    phone.fill("#username", WORKER[0])
    phone.fill("#password", WORKER[1])
    phone.click("#signin-submit")
    card = phone.locator(f"#task-{task['id']}")
    expect(card).to_contain_text("跌倒")
    expect(card).to_contain_text("张桂兰")
    expect(card.locator("dd.address")).to_have_text("幸福社区 幸福社区3号楼301室")
    expect(card.locator("dd.flat")).to_have_text("f-3-301")
    expect(card.locator("dd.key_holder")).to_have_text("邻居赵阿姨 302室")
    expect(card.locator("dd.notes")).to_have_text("高血压；左腿行动不便")
    expect(card.locator("a.call[data-role='resident']")).to_have_attribute(
        "href", "tel:+8613700000003"
    )
    expect(card.locator("a.call[data-role='key_holder']")).to_have_attribute(
        "href", "tel:+8613900000302"
    )
    # Nothing on the page is wider than the phone: no sideways scrolling.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    phone.click("#locate")
    expect(card).to_contain_text("约 0.37 公里")
    phone.click(f"#on-the-way-{task['id']}")
    expect(card).to_have_attribute("data-state", "on_the_way")
    phone.click(f"#on-site-{task['id']}")
    expect(card).to_have_attribute("data-state", "on_site")
    expect(card.locator("form.outcome")).to_be_visible()
    shot = tmp_path / "phone-page.png"
    phone.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SG_SCREENSHOT_DIR"):  # docs/img/phone-page.png is made this way
        shutil.copy(shot, Path(os.environ["SG_SCREENSHOT_DIR"]) / shot.name)

    phone.click(f"#submit-{task['id']}")  # nothing chosen yet: the form says so
    expect(card).to_contain_text("请先选择现场情况")
    card.get_by_label("跌倒，未受伤").check()
    card.get_by_label("扶起老人").check()
    card.get_by_label("已联系家属").check()
    phone.fill(f"#note-{task['id']}", "无外伤，已通知女儿")
    phone.click(f"#submit-{task['id']}")
    expect(phone.locator("#notice")).to_have_text("处置结果已记录，任务已结束。谢谢！")
    expect(phone.locator("#empty")).to_be_visible()

    closed = _ok(world.admin.get(f"/api/v1/tasks/{task['id']}"))
    assert closed["state"] == "closed"
    assert (closed["found"], closed["done"]) == ("fall_uninjured", ["called_family", "helped_up"])
    assert (closed["on_site_latitude"], closed["on_site_longitude"]) == (
        HERE["latitude"],
        HERE["longitude"],
    )
    resolved = _ok(world.admin.get(f"/api/v1/alerts/{alert['id']}"))
    assert (resolved["state"], resolved["note"]) == ("resolved", "无外伤，已通知女儿")


def test_the_phone_page_speaks_english_and_refuses_a_bad_sign_in(phone: Page, world: ConsoleWorld):
    phone.goto(f"{world.url}/console/phone.html")
    phone.click("#lang")
    expect(phone.locator("h1")).to_have_text("My tasks")
    phone.fill("#username", WORKER[0])
    phone.fill("#password", "not the password")
    phone.click("#signin-submit")
    expect(phone.locator("#signin-error")).to_contain_text("Sign-in failed")


def test_staff_see_open_tasks_and_time_to_arrive_and_download_the_month(
    page: Page, world: ConsoleWorld
):
    _seed_worker(world)
    world.raise_event(2, EventKind.SOS, 32)
    alert = world.wait_alert("r-2")
    _ok(world.admin.post(f"/api/v1/alerts/{alert['id']}/task/assign", json={"contact_id": "w-li"}))
    task = _task_of(world, alert["id"])

    page.goto(f"{world.url}/")
    page.fill("#username", STAFF[0])
    page.fill("#password", STAFF[1])
    page.click("#signin-submit")
    page.click("#nav-dispatch")
    row = page.locator(f"tr[data-task='{task['id']}']")
    expect(row).to_contain_text("李建国")
    expect(row).to_contain_text("网格员李明")
    expect(row).to_have_attribute("data-state", "accepted")

    figures = _ok(world.admin.get("/api/v1/dispatch/arrival"))
    [community] = figures["communities"]
    total = page.locator("tr[data-community='total']")
    expect(total.locator("td").nth(1)).to_have_text(str(figures["total"]["tasks"]))
    expect(page.locator("tr[data-community='c-xingfu']")).to_contain_text("幸福社区")
    share = community["within_target_share"]
    expect(page.locator("tr[data-community='c-xingfu'] .within")).to_have_text(
        "—" if share is None else f"{round(share * 100)}%"
    )

    with page.expect_download() as download:
        page.click("#dispatch-csv")
    saved = download.value
    assert saved.suggested_filename.startswith("arrival-")
    text = Path(saved.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("社区编号 / community id,")
    assert "合计 / total" in text


def test_staff_see_the_risk_board_and_a_visit_takes_a_resident_off_the_list(
    page: Page, world: ConsoleWorld
):
    _ok(
        world.admin.patch(
            "/api/v1/residents/r-4",
            json={"conditions": ["认知障碍", "高血压"], "birth_year": 1938, "lives_alone": True},
        )
    )
    _ok(world.admin.post("/api/v1/risk/evaluate", json={}))
    page.goto(f"{world.url}/")
    page.fill("#username", STAFF[0])
    page.fill("#password", STAFF[1])
    page.click("#signin-submit")
    page.click("#nav-risk")
    row = page.locator("#risk-board tr[data-resident='r-4']")
    expect(row).to_contain_text("刘德华")
    expect(row.locator("[data-tag='dementia_noted']")).to_contain_text("认知障碍")
    expect(row.locator("[data-tag='dementia_noted']")).to_contain_text(
        "卫生服务中心登记：认知障碍（自 "
    )
    expect(row.locator("[data-tag='aged_80_plus']")).to_be_visible()
    expect(row).to_contain_text("+ 认知障碍")  # new this week
    listed = page.locator(".visit-list li[data-resident='r-4']")
    expect(listed).to_contain_text("认知障碍：卫生服务中心登记：认知障碍")
    listed.locator("button[data-found='well']").click()
    expect(page.locator("#risk-status")).to_have_text("已记录对 刘德华 的走访。")
    expect(page.locator(".visit-list li[data-resident='r-4']")).to_have_count(0)
    expect(row).to_contain_text(
        _ok(world.admin.get("/api/v1/risk/board?community_id=c-xingfu"))["day"]
    )


def test_two_false_alarms_put_a_band_check_on_the_grid_workers_phone(
    phone: Page, world: ConsoleWorld
):
    _seed_worker(world)
    for key in (41, 42):
        world.raise_event(3, EventKind.SOS, key)
        alert = world.wait_alert("r-3")
        _ok(
            world.admin.post(
                f"/api/v1/alerts/{alert['id']}/resolve", json={"outcome": "false_alarm"}
            )
        )
    [check] = [c for c in _ok(world.admin.get("/api/v1/care-tasks")) if c["resident_id"] == "r-3"]
    assert check["assignee_id"] == WORKER[0]

    phone.goto(f"{world.url}/console/phone.html")
    phone.fill("#username", WORKER[0])
    phone.fill("#password", WORKER[1])
    phone.click("#signin-submit")
    card = phone.locator(f"#check-{check['id']}")
    expect(card).to_contain_text("张桂兰")
    expect(card).to_contain_text("一周内两次误报：请检查手环佩戴和设置")
    phone.click(f"#check-done-{check['id']}")
    expect(phone.locator("#notice")).to_have_text("已记录手环检查。谢谢！")
    expect(card).to_have_count(0)
    assert [
        c for c in _ok(world.admin.get("/api/v1/care-tasks")) if c["resident_id"] == "r-3"
    ] == []
