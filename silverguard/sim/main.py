"""Running the district from the command line: servers up, the simulated days, the
ledger, and everything stopped afterwards — also on Ctrl-C or a failure."""

import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from silverguard.sim.district import SEED_FILE, DistrictFileError, build, read_district_file
from silverguard.sim.receiver import Receiver
from silverguard.sim.run import (
    Options,
    Outcome,
    Say,
    load_registry,
    make_clock,
    make_stack,
    simulate,
    start_gateways,
)

FAILING = ("missed", "duplicated", "wrong_recipient", "late")
JSON_KEYS = (
    "incidents",
    "matched",
    "missed",
    "duplicated",
    "wrong_recipient",
    "late",
    "unexpected_alerts",
    "resident_days",
    "wall_s",
    "peak_rss_mb",
    "cpu_s",
)


def _say_to(stream: TextIO) -> Say:
    def say(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=stream, flush=True)

    return say


async def _run(
    district_file: Path,
    *,
    seed: int,
    days: float,
    speed: float,
    residents: int | None,
    workdir: Path,
    as_json: bool,
) -> int:
    say = _say_to(sys.stderr if as_json else sys.stdout)
    district = build(read_district_file(district_file), seed, residents=residents)
    receiver = Receiver().start()
    started = time.monotonic()
    clock = make_clock(speed, time.time())
    stack = make_stack(district, workdir, clock)
    try:
        say(f"starting Mosquitto, InfluxDB and the fleet in {workdir}")
        await stack.start()
        say(f"fleet API {stack.fleet_url} (console {stack.fleet_url}/console/)")
        await load_registry(stack, district, receiver, say)
        await start_gateways(stack, district, say)
        say(f"up after {time.monotonic() - started:.0f} s wall")
        options = Options(district, seed, days, speed, workdir, say)
        outcome = await simulate(stack, options, clock, receiver)
    finally:
        with contextlib.suppress(Exception):
            await stack.stop()
        receiver.stop()
    outcome.summary["setup_s"] = round(time.monotonic() - started - outcome.summary["wall_s"], 1)
    _report(outcome, as_json)
    return 1 if any(outcome.summary[k] for k in FAILING) else 0


def _report(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        line = {k: outcome.summary[k] for k in JSON_KEYS}
        line.update({k: v for k, v in outcome.summary.items() if k not in line})
        print(json.dumps(line), flush=True)
        return
    print(outcome.table)
    print()
    print("  ".join(f"{k} {v}" for k, v in outcome.summary.items()))
    print()
    print(f"{'process':<20} {'cpu_s':>8} {'peak_rss_mb':>12}")
    for name, cpu, rss in outcome.processes:
        print(f"{name:<20} {cpu:>8} {rss:>12}")


def run_district(
    *,
    district_file: Path | None,
    seed: int,
    days: float,
    speed: float,
    residents: int | None,
    as_json: bool,
    keep_data: bool,
) -> int:
    path = district_file or SEED_FILE
    try:
        read_district_file(path)
    except DistrictFileError as exc:
        print(f"silverguard sim district: {exc}", file=sys.stderr)
        return 2
    if days <= 0 or speed <= 0:
        print("silverguard sim district: --days and --speed must be above 0", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="silverguard-district-"))

    async def main() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        try:
            return await _run(
                path,
                seed=seed,
                days=days,
                speed=speed,
                residents=residents,
                workdir=workdir,
                as_json=as_json,
            )
        except asyncio.CancelledError:
            print("stopped; every process ended", file=sys.stderr, flush=True)
            return 130

    try:
        return asyncio.run(main())
    finally:
        if keep_data:
            print(f"data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
