"""Running the district from the command line: servers up, the simulated days, the
ledger, and everything stopped afterwards — also on Ctrl-C or a failure."""

import asyncio
import contextlib
import json
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from edge.rules.routine_settings import RoutineSettings
from silverguard.servers.postgres import PostgresServer
from silverguard.servers.process import ServerError
from silverguard.sim.district import (
    SEED_FILE,
    District,
    DistrictFileError,
    build,
    read_district_file,
)
from silverguard.sim.meters import (
    HISTORY_DAYS,
    DistrictMeters,
    poll_interval_s,
    register_meters,
    routine_at_speed,
)
from silverguard.sim.receiver import Receiver
from silverguard.sim.run import (
    Options,
    Outcome,
    Say,
    dawn,
    load_registry,
    make_clock,
    make_stack,
    simulate,
    start_gateways,
)
from silverguard.sim.stack import Stack

FAILING = (
    "missed",
    "duplicated",
    "wrong_recipient",
    "late",
    "risk_tags_missing",
    "on_site_unmeasured",
)
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
    "on_site_p50_min",
    "on_site_within_15_min",
    "risk_tags_expected",
    "risk_tags_found",
)


def _say_to(stream: TextIO) -> Say:
    def say(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=stream, flush=True)

    return say


@dataclass(frozen=True, slots=True)
class RunSettings:
    seed: int = 1
    days: float = 1.0
    speed: float = 300.0
    residents: int | None = None
    duration_s: float | None = None  # wall seconds
    narrate: bool = False
    morning: bool = False
    start: str = "06:00"  # simulated local time when the district is up
    as_json: bool = False
    database: str = "sqlite"  # or "postgresql": a private cluster, fsync on


async def _logins(stack: Stack, district: District, say: Say) -> None:
    """A staff account of the first town, to sign in to the console with."""
    assert stack.api is not None
    town = next(iter(district.towns))
    password = secrets.token_urlsafe(9)
    user = {"id": f"staff-{town[2:]}", "role": "staff", "town_id": town, "password": password}
    response = await stack.api.post("/api/v1/users", json=user)
    if response.status_code == 201:
        say(f"console / 控制台: {stack.fleet_url}/console/")
        say(f"  sign in as {user['id']} / {password} (staff of {town}), or paste the admin token:")
        say(f"  {stack.admin_token}")


async def _run(district_file: Path, run: RunSettings, workdir: Path) -> int:
    say = _say_to(sys.stderr if run.as_json else sys.stdout)
    district = build(read_district_file(district_file), run.seed, residents=run.residents)
    receiver = Receiver().start()
    started = time.monotonic()
    clock = make_clock(run.speed, time.time(), run.start)
    postgres: PostgresServer | None = None
    database_url = ""
    if run.database == "postgresql":
        say("[0/4] starting a private PostgreSQL cluster for the registry")
        postgres = await asyncio.to_thread(PostgresServer(durable=True).start)
        database_url = await asyncio.to_thread(postgres.create_database, "silverguard")
    stack = make_stack(district, workdir, clock, database_url)
    for gateway in district.gateways:
        stack.gateway_extra[gateway]["routine"] = routine_at_speed(run.speed)
    # The meters were installed HISTORY_DAYS before the district is due up: the
    # gateways have learned their flats' routines (replayed while the servers start).
    meters = DistrictMeters(district, clock.now, run.seed, history_until=dawn(clock))
    routine = RoutineSettings(**routine_at_speed(run.speed))
    learning = asyncio.create_task(
        asyncio.to_thread(
            meters.write_learned,
            lambda g: stack.gateway_dir(g) / "data",
            routine,
            poll_interval_s(run.speed),
        )
    )
    meters.start()
    try:
        say(f"[1/4] starting Mosquitto, InfluxDB and the fleet in {workdir}")
        await stack.start()
        say(f"[2/4] registry: loading {len(district.residents)} residents by CSV import")
        await load_registry(stack, district, receiver, say)
        flats = await learning
        say(
            f"meters: {HISTORY_DAYS} days of {len(meters.placed)} flats' use learned by {flats} gateways"
        )
        say(f"[3/4] gateways: enrolling and starting {len(district.gateways)}")
        await start_gateways(stack, district, say)
        await _logins(stack, district, say)
        assert stack.api is not None
        created = await register_meters(stack.api, meters, run.speed)
        say(f"meters: {created} imported (CSV) on {len(meters.buses)} simulated buses")
        say(f"[4/4] up after {time.monotonic() - started:.0f} s wall; Ctrl-C stops everything")
        options = Options(
            district,
            run.seed,
            run.days,
            run.speed,
            workdir,
            say,
            duration_s=run.duration_s,
            narrate=run.narrate,
            morning=run.morning,
            meters=meters,
        )
        outcome = await simulate(stack, options, clock, receiver)
        outcome.summary["setup_s"] = round(
            time.monotonic() - started - outcome.summary["wall_s"], 1
        )
    finally:
        with contextlib.suppress(BaseException):
            await learning  # a thread: it ends by itself
        with contextlib.suppress(Exception):
            await stack.stop()
        meters.stop()
        if postgres is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(postgres.cleanup)
        receiver.stop()
    _report(outcome, run.as_json)
    return 1 if any(outcome.summary[k] for k in FAILING) else 0


def _report(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        print(outcome.table, file=sys.stderr, flush=True)  # what each verdict was about
        _processes(outcome, sys.stderr)
        line = {k: outcome.summary[k] for k in JSON_KEYS}
        line.update({k: v for k, v in outcome.summary.items() if k not in line})
        print(json.dumps(line), flush=True)
        return
    print(outcome.table)
    print()
    print("  ".join(f"{k} {v}" for k, v in outcome.summary.items()))
    print()
    _processes(outcome, sys.stdout)


def _processes(outcome: Outcome, out: TextIO) -> None:
    print(f"{'process':<20} {'cpu_s':>8} {'peak_rss_mb':>12}", file=out)
    for name, cpu, rss in outcome.processes:
        print(f"{name:<20} {cpu:>8} {rss:>12}", file=out, flush=True)


def run_district(district_file: Path | None, run: RunSettings, *, keep_data: bool) -> int:
    path = district_file or SEED_FILE
    try:
        read_district_file(path)
        make_clock(run.speed, time.time(), run.start)
    except (DistrictFileError, ValueError) as exc:
        print(f"silverguard sim district: {exc}", file=sys.stderr)
        return 2
    if run.days <= 0:
        print("silverguard sim district: --days must be above 0", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="silverguard-district-"))

    async def main() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        try:
            return await _run(path, run, workdir)
        except asyncio.CancelledError:
            print("stopped; every process ended", file=sys.stderr, flush=True)
            return 130
        except ServerError as exc:  # every process is stopped by then (_run's finally)
            print(f"silverguard sim district: could not start: {exc}", file=sys.stderr)
            return 1

    try:
        return asyncio.run(main())
    finally:
        if keep_data:
            print(f"data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
