"""Fault injection on the real servers: the broker stopped and SIGKILLed, a gateway
SIGKILLed, the fleet restarted, the outbox bound reached, a bad config pushed, the
uplink down long enough for the gateway's own modem to send the SMS.

A burst is many distinct SOS presses (each press is a new event id). Every test prints
how many events were sent, received by the fleet, and delivered more than once; the
promise is that every accepted event becomes exactly one alert.
"""

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract import Event, Topic, TopicKind, decode, event_id
from contract.config import ConfigReport
from contract.sealing import generate_keypair, seal
from edge.outbox import read_backlog
from edge.status_file import StatusFile
from firmware_mocks.modem import ModemEmulator
from firmware_mocks.population import Population
from firmware_mocks.wristband import Button
from silverguard.sim.stack import GatewaySpec, Stack
from tests.waiting import eventually, until

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

GW = "gw-01"
BANDS = 12
_T = TypeVar("_T")


@dataclass
class Burst:
    """SOS presses and the event ids they must become (origin counter = press advert)."""

    population: Population
    expected: list[str] = field(default_factory=list)

    def press(self, index: int) -> str:
        sim = self.population.bands[index % len(self.population.bands)]
        self.population.press(sim.band.mac, Button.LONG)
        # The press went out at once in the advert with this counter: its origin.
        expected = event_id(sim.band.mac, "sos", sim.band.counter)
        self.expected.append(expected)
        return expected

    async def run(self, count: int, gap_s: float = 0.05) -> None:
        for _ in range(count):
            self.press(len(self.expected))
            await asyncio.sleep(gap_s)


async def alert_event_ids(stack: Stack) -> list[str]:
    """Every event id the fleet holds, once per alert it belongs to.

    Several SOS presses of one resident fold into one open alert (docs/alerting.md), so
    events are counted through the alerts' folded events: an id listed twice would be
    an event stored twice.
    """
    assert stack.api is not None
    response = await stack.api.get("/api/v1/alerts", params={"limit": 1000})
    response.raise_for_status()
    ids: list[str] = []
    for alert in response.json():
        detail = await stack.api.get(f"/api/v1/alerts/{alert['id']}")
        detail.raise_for_status()
        ids += [event["id"] for event in detail.json()["events"]]
    return ids


async def fleet_ingest(stack: Stack) -> dict[str, Any]:
    assert stack.api is not None
    counts: dict[str, Any] = (await stack.api.get("/health")).json()["ingest"]
    return counts


def report(name: str, sent: int, received: list[str], ingest: dict[str, Any], **extra: Any) -> None:
    duplicate_alerts = len(received) - len(set(received))
    more = "".join(f", {k.replace('_', ' ')} {v}" for k, v in extra.items())
    print(
        f"\n[{name}] events sent {sent}, received {len(set(received))}, duplicated "
        f"{duplicate_alerts}, copies delivered more than once {ingest.get('events_duplicate', 0)}"
        f"{more}"
    )


async def all_alerts(stack: Stack, expected: set[str], timeout: float = 90.0) -> list[str]:
    async def arrived() -> list[str] | None:
        ids = await alert_event_ids(stack)
        return ids if expected <= set(ids) else None

    return await eventually(arrived, timeout, f"{len(expected)} events in alerts")


def backlog_events(stack: Stack) -> int:
    return stack.gateway_status(GW).backlog["event"].count  # type: ignore[index]


def fresh(since: float, check: Callable[[StatusFile], bool]) -> Callable[[StatusFile], bool]:
    """``check`` on the status of a process started after ``since`` and hearing the
    bands: the killed process's last status file says the same things (connected,
    version 2), and presses made before the new one listens would go unheard."""
    return lambda s: s.started_at >= since and s.radio.adverts_seen > 0 and check(s)


async def wait_status(stack: Stack, check: Callable[[StatusFile], bool], what: str) -> None:
    async def ok() -> bool:
        status = stack.gateway_status(GW).status
        return status is not None and check(status)

    await eventually(ok, 60, what)


@contextlib.asynccontextmanager
async def district(
    tmp_path: Path, *, repeats: int = 5, **stack_options: Any
) -> AsyncIterator[tuple[Stack, Burst]]:
    options: dict[str, Any] = {
        "telemetry_interval_s": 0.5,
        "event_resend_s": 2.0,
        "backoff_max_s": 2.0,
    }
    options.update(stack_options)
    stack = Stack(tmp_path / "stack", [GatewaySpec(GW, (0.0, 0.0))], **options)
    await stack.start()
    advertising: asyncio.Task[None] | None = None
    try:
        # Everyone at home whatever the hour: a routine would take residents out of range
        # (at 08:00 Beijing some leave), and their presses would go unheard.
        population = Population.generate(
            stack.air, BANDS, area_m=(6.0, 6.0), interval_s=0.5, routines=False
        )
        for sim in population.bands:
            sim.band.repeats = repeats
        await stack.register_population(population)
        yield stack, Burst(population)
    finally:
        if advertising is not None:
            advertising.cancel()
        await stack.stop()


async def start(stack: Stack, burst: Burst) -> asyncio.Task[None]:
    await stack.start_gateways()
    await wait_status(stack, lambda s: s.uplink.state == "connected", "the uplink")
    return asyncio.create_task(burst.population.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_broker_down_until_the_backoff_is_capped_loses_nothing(tmp_path: Path):
    async with district(tmp_path) as (stack, burst):
        advertising = await start(stack, burst)
        try:
            await burst.run(15)
            await stack.stop_broker()
            await burst.run(15)  # decided and queued while the uplink is down
            cap = stack.backoff_max_s
            await wait_status(
                stack,
                lambda s: s.uplink.backoff_s >= cap and s.uplink.reconnects >= 3,
                "the reconnect backoff to reach its cap",
            )
            queued = backlog_events(stack)
            telemetry_queued = stack.gateway_status(GW).backlog["telemetry"].count  # type: ignore[index]
            assert queued >= 15  # the status shows the backlog while offline
            assert telemetry_queued > 0
            await stack.start_broker()
            received = await all_alerts(stack, set(burst.expected))
            await eventually(lambda: _async(backlog_events(stack) == 0), 30, "an empty outbox")
            ingest = await fleet_ingest(stack)
        finally:
            await stop(advertising)
    report(
        "broker stopped",
        len(burst.expected),
        received,
        ingest,
        queued_while_down=queued,
        telemetry_batches_queued=telemetry_queued,
    )
    assert sorted(received) == sorted(burst.expected)


async def _async(value: _T) -> _T:
    return value


async def test_broker_sigkilled_mid_burst_loses_nothing(tmp_path: Path):
    async with district(tmp_path) as (stack, burst):
        advertising = await start(stack, burst)
        try:
            pressing = asyncio.create_task(burst.run(40, gap_s=0.05))
            await until(lambda: len(burst.expected) >= 15, what="the burst under way")
            await stack.kill_broker()  # no chance to save: autosave_on_changes must have
            await until(lambda: len(burst.expected) >= 25, what="presses while it is down")
            await stack.start_broker()
            await pressing
            received = await all_alerts(stack, set(burst.expected))
            ingest = await fleet_ingest(stack)
        finally:
            await stop(advertising)
    report("broker SIGKILL", len(burst.expected), received, ingest)
    assert sorted(received) == sorted(burst.expected)


async def test_gateway_sigkilled_mid_burst_loses_no_accepted_event(tmp_path: Path):
    # One copy per press: after the kill nothing is on the air any more, so an event
    # can reach the fleet only from the killed gateway's outbox.
    async with district(tmp_path, repeats=1) as (stack, burst):
        advertising = await start(stack, burst)
        try:
            await burst.run(30, gap_s=0.01)
            outbox = stack.gateway_dir(GW) / "data" / "outbox.db"
            first = list(burst.expected)

            async def all_accepted() -> bool:
                stored = outbox_event_ids(outbox) | set(await alert_event_ids(stack))
                return set(first) <= stored

            # Kill as soon as the gateway has taken every press, while its uplink is
            # still busy: some events are in the fleet, the rest only in the outbox.
            with contextlib.suppress(AssertionError):
                await eventually(all_accepted, 5, "every press accepted")
            stack.kill_gateway(GW)
            in_outbox = outbox_event_ids(outbox)
            acked_before = set(await alert_event_ids(stack))
            restarted_at = time.time()
            await stack.start_gateway(GW)
            await wait_status(
                stack, fresh(restarted_at, lambda s: s.uplink.state == "connected"), "restart"
            )
            await burst.run(10)
            # Accepted = stored by the fleet already, or committed in the outbox.
            received = await all_alerts(stack, set(burst.expected[len(first) :]))

            async def outbox_drained() -> bool:
                return backlog_events(stack) == 0

            await eventually(outbox_drained, 30, "the outbox to drain")
            received = await alert_event_ids(stack)
            ingest = await fleet_ingest(stack)
        finally:
            await stop(advertising)
    never_accepted = [e for e in first if e not in set(received)]
    report(
        "gateway SIGKILL",
        len(burst.expected),
        received,
        ingest,
        in_outbox_at_kill=len(in_outbox),
        stored_by_the_fleet_before_kill=len(acked_before),
        delivered_from_the_outbox_after_restart=len(in_outbox - acked_before),
        not_accepted_before_the_kill=len(never_accepted),
    )
    assert len(received) == len(set(received))  # no duplicate alert
    assert set(received) <= set(burst.expected)
    # Everything accepted before the kill arrived: what the fleet had, and the outbox.
    assert in_outbox | acked_before <= set(received)
    assert len(never_accepted) <= 3  # only presses in flight at the moment of the kill


def outbox_event_ids(path: Path) -> set[str]:
    """The events a (dead) gateway's outbox holds, read as `gateway status` does."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT event_id FROM outbox WHERE kind = 'event'")}
    finally:
        db.close()


async def test_fleet_restarted_mid_burst_loses_nothing(tmp_path: Path):
    async with district(tmp_path) as (stack, burst):
        advertising = await start(stack, burst)
        try:
            pressing = asyncio.create_task(burst.run(40, gap_s=0.05))
            await until(lambda: len(burst.expected) >= 10, what="the burst under way")
            await stack.restart_fleet()
            await pressing
            received = await all_alerts(stack, set(burst.expected))
            ingest = await fleet_ingest(stack)
        finally:
            await stop(advertising)
    report("fleet restart", len(burst.expected), received, ingest)
    assert sorted(received) == sorted(burst.expected)


async def test_outbox_bound_reached_thins_telemetry_and_keeps_every_event(tmp_path: Path):
    async with district(tmp_path) as (stack, burst):
        # A 16 KiB outbox: a few telemetry batches fill it.
        stack.gateway_extra[GW] = {"outbox": {"max_mb": 16 / 1024}}
        advertising = await start(stack, burst)
        try:
            await stack.stop_broker()
            await burst.run(20)
            outbox = stack.gateway_dir(GW) / "data" / "outbox.db"

            async def thinned() -> int:
                count = read_backlog(outbox)[1]
                return count if count >= 3 else 0

            thinned_count = await eventually(thinned, 60, "telemetry to be thinned")
            backlog, _ = read_backlog(outbox)
            assert backlog["event"].count == 20  # events are never thinned
            assert backlog["telemetry"].bytes + backlog["event"].bytes <= 16 * 1024 + 2048
            await stack.start_broker()
            received = await all_alerts(stack, set(burst.expected))
            ingest = await fleet_ingest(stack)
        finally:
            await stop(advertising)
    report("outbox bound", len(burst.expected), received, ingest, telemetry_thinned=thinned_count)
    assert sorted(received) == sorted(burst.expected)


async def test_a_bad_part_is_set_aside_and_a_bad_config_refused_while_the_rest_runs(
    tmp_path: Path,
):
    async with district(tmp_path, bands_in_settings=False) as (stack, burst):
        advertising = await start(stack, burst)
        try:
            async with stack.fleet_side_client("test-config-watcher") as watcher:
                await watcher.subscribe(str(Topic(GW, TopicKind.CONFIG_REPORTED)), qos=1)

                async def next_report() -> ConfigReport:
                    async with asyncio.timeout(30):
                        async for message in watcher.messages:
                            return decode(message.payload, ConfigReport)  # type: ignore[arg-type]
                    raise AssertionError("no report")

                await stack.publish_config(stack.make_config(GW, 1))
                good = await next_report()
                assert (good.ok, good.version, good.set_aside) == (True, 1, [])
                await burst.run(3)  # the pushed keys decode the bands: alerts arrive
                await all_alerts(stack, set(burst.expected), timeout=30)

                # Version 2: one more band whose key was sealed to another gateway, and
                # one resident's plan in an old unit. Both are set aside; the rest runs.
                v2 = json.loads(stack.make_config(GW, 2).encode())
                v2["bands"].append(
                    {
                        "mac": "C2:EE:00:00:00:01",
                        "sealed_key": seal(generate_keypair()[1], bytes(range(16))),
                    }
                )
                v2["residents"].append({"resident": "r-old", "plan": {"inactivity_minutes": 5}})
                await stack.publish_raw_config(GW, json.dumps(v2).encode())
                partial = await next_report()
                assert (partial.ok, partial.version) == (True, 2)
                assert sorted((p.section, p.name) for p in partial.set_aside) == [
                    ("bands", "C2:EE:00:00:00:01"),
                    ("residents", "r-old"),
                ]
                await burst.run(3)  # every other band's key still applies
                await all_alerts(stack, set(burst.expected), timeout=30)

                # Version 3 is not a config for this gateway at all: refused whole.
                v3 = {**json.loads(stack.make_config(GW, 3).encode()), "gateway": "gw-other"}
                await stack.publish_raw_config(GW, json.dumps(v3).encode())
                refused = await next_report()
            assert not refused.ok
            assert refused.version == 2
            assert refused.rejected_version == 3
            assert "not this one" in refused.error
            await wait_status(stack, lambda s: s.config.rejected_version == 3, "the refusal")
            await burst.run(3)  # still decoding with version 2
            await all_alerts(stack, set(burst.expected), timeout=30)

            # Restarted without a broker, it runs the last good config from disk.
            await stack.kill_broker()
            stack.kill_gateway(GW)
            restarted_at = time.time()
            await stack.start_gateway(GW)
            await wait_status(
                stack, fresh(restarted_at, lambda s: s.config.version == 2), "config on disk"
            )
            await burst.run(2)
            await eventually(
                lambda: _async(backlog_events(stack) >= 2), 30, "events decided offline"
            )
            await stack.start_broker()
            received = await all_alerts(stack, set(burst.expected))
            ingest = await fleet_ingest(stack)
        finally:
            await stop(advertising)
    report("bad config", len(burst.expected), received, ingest)
    assert sorted(received) == sorted(burst.expected)


def event_watcher(stack: Stack) -> aiomqtt.Client:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 600
    return stack.fleet_side_client("test-event-watcher", clean_start=False, properties=props)


async def test_a_long_outage_sends_the_sms_from_the_gateways_modem(tmp_path: Path):
    numbers = ["+8613800138000", "+8613900139000"]
    with ModemEmulator() as modem:
        async with district(tmp_path, bands_in_settings=False) as (stack, burst):
            sos_band = burst.population.bands[0].band.mac
            stack.gateway_extra[GW] = {
                "modem": {
                    "port": modem.port,
                    "offline_after_s": 3.0,
                    "command_timeout_s": 3.0,
                    "send_timeout_s": 10.0,
                }
            }
            advertising = await start(stack, burst)
            try:
                await stack.publish_config(stack.make_config(GW, 1, contacts={sos_band: numbers}))
                await wait_status(stack, lambda s: s.config.version == 1, "the config")
                # A persistent session on the event topic: the broker keeps for it the
                # copy the gateway sends when the link is back, whoever acknowledges it.
                async with event_watcher(stack) as watcher:
                    await watcher.subscribe(str(Topic(GW, TopicKind.EVENT)), qos=1)
                await stack.stop_broker()
                down_at = time.monotonic()
                burst.press(0)
                messages = await asyncio.to_thread(modem.wait_for, 2, 60)
                sms_after = time.monotonic() - down_at
                await wait_status(
                    stack,
                    lambda s: s.sms is not None and s.sms.events_notified == 1,
                    "the event marked",
                )
                await stack.start_broker()
                async with event_watcher(stack) as watcher, asyncio.timeout(60):
                    async for message in watcher.messages:
                        delivered = decode(message.payload, Event)  # type: ignore[arg-type]
                        break
                received = await all_alerts(stack, set(burst.expected))
                ingest = await fleet_ingest(stack)
                gateway_log = stack.gateway_log(GW)
            finally:
                await stop(advertising)
    report("offline SMS", 1, received, ingest, sms_sent=len(messages))
    print(f"[offline SMS] first SMS {sms_after:.1f} s after the broker went down (span 3 s)")
    assert sorted(m.number for m in messages) == sorted(numbers)
    assert all("紧急求救" in m.text and m.charset == "UCS2" for m in messages)
    assert delivered.id == burst.expected[0]
    assert delivered.notified_locally
    assert delivered.evidence["local_sms_reached"] == 2
    for number in numbers:
        assert number[3:] not in gateway_log  # the numbers never reach the journal
    assert json.dumps(numbers[0]) not in gateway_log
