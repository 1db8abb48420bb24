"""``silverguard bench alert-latency``: from a gateway deciding an SOS to the first
notification request arriving at the caregiver's provider, through the real stack.

A private Mosquitto, InfluxDB, the fleet and gateways run as separate processes (the
``Stack`` of the demo and end-to-end tests); simulated bands advertise over the
simulated air; each caregiver's channel is an apprise ``json://`` URL of a local HTTP
receiver standing in for the SMS / push provider. ``incidents`` residents press SOS
one after another, ``interval_s`` apart. For each incident:

    latency = arrival of the first request at the receiver  −  the event's ``detected_at``

``detected_at`` is stamped by the gateway when its rule decides (the copy the fleet
stored first); everything runs on one machine, so both times come from one clock.
The figures also split each latency into gateway → fleet (the fleet's ``received_at``)
and fleet → provider.
"""

import asyncio
import contextlib
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from firmware_mocks.population import Population, district_layout
from firmware_mocks.wristband import Button
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values_ms, 50), 1),
        "p90_ms": round(percentile(values_ms, 90), 1),
        "p99_ms": round(percentile(values_ms, 99), 1),
        "max_ms": round(max(values_ms), 1),
    }


async def _measure(
    workdir: Path, incidents: int, gateways: int, interval_s: float
) -> dict[str, Any]:
    receiver = Receiver().start()
    homes, positions = district_layout(incidents, gateways)
    specs = [GatewaySpec(f"gw-{i + 1:02d}", pos) for i, pos in enumerate(positions)]
    stack = Stack(workdir, specs)
    try:
        await stack.start()
        population = Population.generate(
            stack.air, incidents, homes=homes, interval_s=1.0, routines=False
        )
        paths = {sim.band.mac: f"c-{i:05d}" for i, sim in enumerate(population.bands, start=1)}
        await stack.register_population(
            population, {mac: [receiver.url(path)] for mac, path in paths.items()}
        )
        await stack.start_gateways()
        runner = asyncio.create_task(population.run())
        try:
            # Every band heard at least once before the first press.
            await asyncio.sleep(3.0)
            for sim in population.bands:
                population.press(sim.band.mac, Button.LONG)
                await asyncio.sleep(interval_s)
            await asyncio.to_thread(
                receiver.wait_for, incidents, timeout=max(60.0, incidents * 0.5)
            )
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        return await _figures(stack, receiver, set(paths.values()))
    finally:
        with contextlib.suppress(Exception):
            await stack.stop()
        receiver.stop()


async def _figures(stack: Stack, receiver: Receiver, paths: set[str]) -> dict[str, Any]:
    assert stack.api is not None
    first: dict[str, float] = {}
    for request in receiver.delivered():
        path = request.path.strip("/")
        if path in paths and path not in first:
            first[path] = request.at
    alerts = (await stack.api.get("/api/v1/alerts", params={"limit": 1000})).json()
    total: list[float] = []
    to_fleet: list[float] = []
    in_fleet: list[float] = []
    for alert in alerts:
        detail = (await stack.api.get(f"/api/v1/alerts/{alert['id']}")).json()
        opening = next(e for e in detail["events"] if e["id"] == detail["event_id"])
        detected = _ts(opening["detected_at"])
        received = _ts(opening["received_at"])
        path = f"c-{int(alert['resident_id'].split('-')[1]):05d}"
        arrived = first.get(path)
        if arrived is None:
            continue
        total.append((arrived - detected) * 1000)
        to_fleet.append((received - detected) * 1000)
        in_fleet.append((arrived - received) * 1000)
    if not total:
        raise RuntimeError("no incident reached a receiver")
    return {
        "incidents": len(total),
        **{k: v for k, v in _summary(total).items() if k in ("p50_ms", "p99_ms")},
        "p90_ms": _summary(total)["p90_ms"],
        "max_ms": _summary(total)["max_ms"],
        "gateway_to_fleet": _summary(to_fleet),
        "fleet_to_provider": _summary(in_fleet),
    }


def _ts(text: str) -> float:

    return datetime.fromisoformat(text).timestamp()


def run(
    *, incidents: int, gateways: int, interval_s: float, workdir: Path | None = None
) -> dict[str, Any]:
    temporary = workdir is None
    path = Path(tempfile.mkdtemp(prefix="sg-bench-alert-")) if workdir is None else workdir
    started = time.monotonic()
    try:
        figures = asyncio.run(_measure(path, incidents, gateways, interval_s))
    finally:
        if temporary:
            shutil.rmtree(path, ignore_errors=True)
    figures["wall_s"] = round(time.monotonic() - started, 1)
    figures["interval_s"] = interval_s
    figures["gateways"] = gateways
    return figures
