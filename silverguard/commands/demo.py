"""``silverguard demo``: the simulated district on real servers."""

import argparse
from typing import Any

from silverguard.commands.common import setup_logging


def _demo(args: argparse.Namespace) -> int:
    from silverguard.demo import run_demo

    setup_logging("WARNING")
    return run_demo(
        duration_s=args.duration,
        bands=args.bands,
        gateways=args.gateways,
        keep_data=args.keep_data,
    )


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    demo = commands.add_parser(
        "demo", help="run a simulated district: broker, InfluxDB, fleet, gateways, wristbands"
    )
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--bands", type=int, default=36, help="simulated wristbands (default 36)")
    demo.add_argument("--gateways", type=int, default=3, help="simulated gateways (default 3)")
    demo.add_argument("--keep-data", action="store_true", help="keep the demo's data directory")
    demo.set_defaults(func=_demo)
