"""Escalation through the real servers: a fall nobody acknowledges reaches the family,
then the grid worker, then the duty line, and again, until someone uses the signed
link in their message; a provider failing for a while does not hold anything up.

Each contact's channels are real HTTP receivers behind apprise ``json://`` URLs.
"""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from contract import EventKind
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack
from tests.e2e.alerting_world import build, critical, gateway_client, link_in, publish
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

# Seconds, not minutes: the same policy shape as the district's default.
POLICY = {
    "steps": [
        {"after_s": 0, "targets": ["caregivers"]},
        {"after_s": 2, "targets": ["grid_worker"]},
        {"after_s": 4, "targets": ["duty_line"]},
    ],
    "repeat_every_s": 6,
}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    s = Stack(
        tmp_path / "stack",
        [GatewaySpec("gw-01", (0.0, 0.0))],
        fleet_settings={"notify_retry_s": 0.5},
    )
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def test_an_unacknowledged_fall_escalates_until_the_signed_link_is_used(
    stack: Stack, receiver: Receiver
):
    api = stack.api
    assert api is not None
    (band,) = await build(
        stack,
        residents=1,
        family=[receiver.url("family")],
        worker=[receiver.url("grid")],
        duty=[receiver.url("duty")],
        policy=POLICY,
    )
    started = time.time()
    async with gateway_client(stack, "gw-01") as client:
        await publish(client, critical(band, EventKind.FALL, 1, started, "gw-01"))
    wait = asyncio.to_thread
    (family,) = await wait(receiver.wait_for, 1, path="family", timeout=15)
    (grid,) = await wait(receiver.wait_for, 1, path="grid", timeout=15)
    (duty,) = await wait(receiver.wait_for, 1, path="duty", timeout=15)
    family_again = (await wait(receiver.wait_for, 2, path="family", timeout=15))[1]
    # Step by step, each on its time and before the next is due (the alert opens a few
    # milliseconds after `started`).
    assert family.at - started < 2
    assert 2 <= grid.at - started < 4
    assert 4 <= duty.at - started < 6
    assert 6 <= family_again.at - started < 8
    assert "跌倒" in family.body["title"]
    assert "升级" not in family.body["title"]
    assert grid.body["title"].startswith("[Silverguard ESCALATED]")  # the worker reads English
    assert "grid worker" in grid.body["message"]
    assert "升级" in family_again.body["title"]

    # The grid worker opens the link: a page, nothing acknowledged yet (link previews).
    link = link_in(grid)
    assert link.contact == "c-grid"
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(link.url)
        assert page.status_code == 200
        assert "on it (acknowledge)" in page.text
        assert (await api.get(f"/api/v1/alerts/{link.alert_id}")).json()["state"] == "notified"
        done = await browser.post(link.url)
        assert done.status_code == 200
        assert "Acknowledged" in done.text
        acknowledged_at = time.time()
        # The same link again, and a forged one: refused with a page.
        reused = await browser.post(link.url)
        assert reused.status_code == 410
        assert "already been used" in reused.text
        forged = link.url.replace(".c-grid.", ".c-duty.")
        refused = await browser.post(forged)
        assert refused.status_code == 403
        assert "此链接无效" in refused.text

    alert = (await api.get(f"/api/v1/alerts/{link.alert_id}")).json()
    assert alert["state"] == "acknowledged"
    assert alert["acknowledged_by"] == "contact:c-grid"
    assert alert["escalation"]["next_step"] is None
    # The alert's own lines; the dispatch task's (task_*) say who took it.
    actions = [e["action"] for e in alert["timeline"] if not e["action"].startswith("task_")]
    taken = [e for e in alert["timeline"] if e["action"] == "task_accepted"]
    assert [(e["detail"]["owner"], e["detail"]["via"]) for e in taken] == [
        ("c-grid", "acknowledge")
    ]
    assert actions[0] == "opened"
    assert [
        (e["detail"]["round"], e["detail"]["step"])
        for e in alert["timeline"]
        if e["action"] == "escalated"
    ][:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert "notified" in actions
    assert actions[-2:] == ["acknowledged", "escalation_stopped"]
    assert {d["contact"] for d in alert["deliveries"] if d["status"] == "sent"} >= {
        "c-fam-1",
        "c-grid",
        "c-duty",
    }
    # Nothing more can be sent: no step is scheduled and no delivery waits, and it was
    # acknowledged before round 2's grid step was due.
    assert [d for d in alert["deliveries"] if d["status"] == "pending"] == []
    assert acknowledged_at < started + 8


async def test_a_failing_channel_is_retried_while_the_others_and_the_escalation_go_on(
    stack: Stack, receiver: Receiver
):
    flaky = Receiver(fail_with=500).start()
    try:
        (band,) = await build(
            stack,
            residents=1,
            family=[flaky.url("sms"), receiver.url("push")],
            worker=[receiver.url("grid")],
            duty=[receiver.url("duty")],
            policy=POLICY,
        )
        started = time.time()
        async with gateway_client(stack, "gw-01") as client:
            await publish(client, critical(band, EventKind.SOS, 1, started, "gw-01"))
        (push,) = await asyncio.to_thread(receiver.wait_for, 1, path="push", timeout=15)
        assert push.at - started < 1.5  # the good channel did not wait for the bad one
        (grid,) = await asyncio.to_thread(receiver.wait_for, 1, path="grid", timeout=15)
        assert grid.at - started < 3.5  # nor did the escalation
        # The SMS provider answers 500 to three attempts (backing off: 0.5 s, 1 s ...),
        # then recovers; the next retry gets through.
        await asyncio.to_thread(
            lambda: wait_until(lambda: len(flaky.requests) >= 3, 15, "three failed attempts")
        )
        flaky.fail_with = None
        await asyncio.to_thread(flaky.wait_for, 1, path="sms", timeout=15)
        attempts = [r.at for r in flaky.requests]
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps[1] > 1.5 * gaps[0], f"no exponential backoff: {gaps}"
        api = stack.api
        assert api is not None
        alert_id = link_in(push).alert_id
        alert = (await api.get(f"/api/v1/alerts/{alert_id}")).json()
        sms = [
            d
            for d in alert["deliveries"]
            if d["contact"] == "c-fam-1" and d["round"] == 0 and d["step"] == 0
        ]
        assert sorted(d["status"] for d in sms) == ["sent", "sent"]
        assert max(d["attempts"] for d in sms) >= 4
        failures = [e for e in alert["timeline"] if e["action"] == "delivery_failed"]
        assert len(failures) >= 3
        assert all(e["detail"]["channel"] == "json" and e["detail"]["retry_at"] for e in failures)
        # No channel URL (a secret) in the alert's record or the fleet's log.
        assert "127.0.0.1" not in str(alert)
        log = (stack.fleet_dir / "fleet.log").read_text()
        for secret in (flaky.url("sms"), receiver.url("push"), f":{flaky.port}/"):
            assert secret not in log
    finally:
        flaky.stop()
