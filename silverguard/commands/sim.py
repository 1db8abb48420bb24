"""``silverguard sim ...``: simulations of the system at scale (print one JSON line)."""

import argparse
from pathlib import Path
from typing import Any


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
    sim = commands.add_parser("sim", help="simulations at scale (print one JSON line, save JSON)")
    which = sim.add_subparsers(dest="sim_command", required=True, metavar="SIMULATION")
    city = which.add_parser(
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
