"""``silverguard sim ...``: simulations on the real stack — ``district``, the seed district
with its ledger; ``city``, a city's gateways against the fleet at scale (one JSON line)."""

import argparse
from pathlib import Path
from typing import Any

from silverguard.commands.common import setup_logging


def _district(args: argparse.Namespace) -> int:
    from silverguard.sim.main import RunSettings, run_district

    setup_logging("ERROR")
    run = RunSettings(
        seed=args.seed,
        days=args.days,
        speed=args.speed,
        residents=args.residents,
        duration_s=args.duration,
        narrate=args.narrate,
        morning=args.morning,
        start=args.start,
        as_json=args.json,
        database=args.database,
    )
    return run_district(args.district, run, keep_data=args.keep_data)


def _city(args: argparse.Namespace) -> int:
    from silverguard.bench import emit
    from silverguard.sim.city import City, run

    city = City(
        wristbands=args.wristbands,
        gateways=args.gateways,
        fleets=args.fleets,
        duration_s=args.duration,
        telemetry_interval_s=args.telemetry_interval,
        sos_every_s=args.sos_every,
    )
    emit("sim-city", run(city, args.workdir), args.out)
    return 0


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    sim = commands.add_parser("sim", help="simulations on the real stack")
    kinds = sim.add_subparsers(dest="sim", required=True, metavar="SIMULATION")
    district = kinds.add_parser(
        "district",
        help="the district over simulated days, checked against the scenario ledger",
        description=(
            "Runs the district (8 towns, 76 communities, 12 gateways, 867 residents by "
            "default) on private servers with simulated time, scripts incidents, and checks "
            "that each reached the right person in time. Exit 1 on any miss."
        ),
    )
    district.add_argument("--seed", type=int, default=1, help="the district's seed (default 1)")
    district.add_argument("--days", type=float, default=1.0, help="simulated days (default 1)")
    district.add_argument(
        "--speed", type=float, default=300.0, help="simulated seconds per wall second (300)"
    )
    district.add_argument(
        "--district", type=Path, default=None, help="district CSV file (default: the seed district)"
    )
    district.add_argument(
        "--residents", type=int, default=None, help="fewer residents (a shortened run)"
    )
    district.add_argument(
        "--duration", type=float, default=None, help="stop after this many wall seconds"
    )
    district.add_argument(
        "--start", default="06:00", help="simulated local time when the district is up (06:00)"
    )
    district.add_argument(
        "--narrate", action="store_true", help="tell each incident and message as it happens"
    )
    district.add_argument(
        "--morning", action="store_true", help="an SOS, a fall and a cancelled fall at once"
    )
    district.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the fleet's registry: SQLite (default) or a private PostgreSQL cluster",
    )
    district.add_argument("--json", action="store_true", help="one JSON line on stdout")
    district.add_argument("--keep-data", action="store_true", help="keep the data directory")
    district.set_defaults(func=_district)
    city = kinds.add_parser(
        "city",
        help="a city's gateways publishing to the broker, the fleet processes ingesting: "
        "throughput, lag, alert latency, memory per process, which tier saturates first",
    )
    city.add_argument("--wristbands", type=int, default=100_000)
    city.add_argument("--gateways", type=int, default=2_000)
    city.add_argument("--fleets", type=int, default=1, help="fleet processes (>1: PostgreSQL)")
    city.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    city.add_argument(
        "--telemetry-interval", type=float, default=10.0, help="seconds between a gateway's batches"
    )
    city.add_argument("--sos-every", type=float, default=2.0, help="seconds between SOS events")
    city.add_argument("--workdir", type=Path, help="keep the servers' files and logs here")
    city.add_argument("--out", type=Path, help="where to save the JSON (default bench-results/)")
    city.set_defaults(func=_city)
