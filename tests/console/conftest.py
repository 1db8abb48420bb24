"""Fixtures for the console tests: one district served by a real fleet for the module,
and headless Chromium (the system's, driven by Playwright) with a fresh context per test."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from contract import EventKind, Severity
from tests.console.world import ConsoleWorld, band_mac

CHROMIUM = os.environ.get("SG_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which
# a closed network refuses; Playwright gives every launch a fresh, empty profile.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    world = ConsoleWorld.start(tmp_path_factory.mktemp("console"))
    try:
        # A week of battery readings ending five minutes ago: four bands lose 2 points a
        # day, r-5's is nearly empty, r-6's loses 9 a day (abnormal); r-4's never reported.
        now = time.time() - 300
        series = {}
        for i, (start, per_day, days) in {
            1: (90, 2.0, 4),
            2: (88, 2.0, 4),
            3: (92, 2.0, 4),
            5: (23, 2.0, 4),
            6: (95, 9.0, 2),
        }.items():
            series[band_mac(i)] = [
                (now - (days * 24 - h) * 3600, round(start - per_day * h / 24))
                for h in range(days * 24 + 1)
            ]
        world.write_battery(series)
        world.gateway_online(outbox_events=2, outbox_telemetry=14)
        world.raise_event(5, EventKind.INACTIVITY, 1, Severity.HIGH)
        world.wait_alert("r-5")
        yield world
    finally:
        world.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install it with 'scripts/setup.sh test'")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(params=["zh-CN"])
def locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Browser, locale: str) -> Iterator[Page]:
    """A fresh browser context: no storage, the given language, and a time zone far
    from Beijing's (the console must show Beijing time whatever the PC's zone is)."""
    context = browser.new_context(
        locale=locale, timezone_id="America/New_York", viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on(
        "console",
        # A refused request (401 at a wrong password) is logged by the browser itself;
        # anything else, such as a Content Security Policy refusal, is a bug.
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    assert problems == [], problems
