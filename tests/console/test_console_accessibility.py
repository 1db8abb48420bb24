"""An automated accessibility pass over every console page: axe-core (vendored, see
vendor/README.md) in headless Chromium, in both languages; no serious or critical
finding is allowed. Labels, names, contrast (AA), keyboard focus order are among what
axe checks; the keyboard test below walks the resident page without a mouse."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from contract import EventKind, Severity
from tests.console.world import STAFF, ConsoleWorld

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
LOADING = {"zh-CN": "加载中", "en": "Loading"}
PAGES = [
    "overview",
    "alerts",
    "residents",
    "resident/r-1",
    "wristbands",
    "battery",
    "gateways",
    "dispatch",
    "risk",
]


@pytest.fixture
def audited(browser: Browser, world: ConsoleWorld) -> Iterator[Page]:
    """A page whose Content Security Policy lets the test inject axe (the console's own
    policy refuses any script it does not serve, which is the point of it)."""
    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        bypass_csp=True,
        viewport={"width": 1400, "height": 1000},
    )
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def sign_in(page: Page, world: ConsoleWorld) -> None:
    page.goto(f"{world.url}/")
    page.fill("#username", STAFF[0])
    page.fill("#password", STAFF[1])
    page.click("#signin-submit")
    expect(page.locator("#nav-overview")).to_be_visible()


def serious(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_no_serious_accessibility_finding_on_any_page(
    audited: Page, world: ConsoleWorld, language: str
):
    world.raise_event(2, EventKind.SOS, 21, Severity.CRITICAL)
    page = audited
    page.goto(f"{world.url}/")
    page.evaluate(f"localStorage.setItem('sg.lang', '{language}')")
    page.reload()
    expect(page.locator("#username")).to_be_visible()
    findings = {"signin": serious(page)}
    sign_in(page, world)
    alert = world.wait_alert("r-2")
    for name in [*PAGES, f"alerts/{alert['id']}"]:
        page.goto(f"{world.url}/console/#/{name}")
        # Not "networkidle": the live stream keeps a request open for as long as the page.
        expect(page.locator("#page .page")).not_to_contain_text(LOADING[language])
        expect(page.locator("#page .page table, #page .page .card").first).to_be_visible()
        page.wait_for_timeout(500)  # charts are drawn on the next animation frame
        findings[name] = serious(page)
    bad = {name: found for name, found in findings.items() if found}
    assert bad == {}, json.dumps(bad, ensure_ascii=False, indent=1)


def test_the_resident_page_works_from_the_keyboard(audited: Page, world: ConsoleWorld):
    page = audited
    sign_in(page, world)
    page.click("#nav-residents")
    expect(page.locator("#resident-list tbody tr").first).to_be_visible()
    # Tab to the first resident's name and open it with Enter.
    first = page.locator("#resident-list tbody a.resident-link").first
    name = first.inner_text()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('resident-link')"):
            break
    assert page.evaluate("document.activeElement.textContent") == name
    page.keyboard.press("Enter")
    expect(page.locator("#resident-name")).to_have_text(name)
    # The care plan's fields are reachable and labelled.
    page.focus("#plan-inactivity")
    label = page.evaluate("document.activeElement.labels[0].textContent")
    assert "无活动" in label
