"""``silverguard gateway ...``: run and manage a community gateway."""

import argparse
from pathlib import Path
from typing import Any

from silverguard.commands.common import setup_logging
from silverguard.config import load_settings


def _run(args: argparse.Namespace) -> int:
    from edge.app import run_gateway
    from edge.settings import GatewaySettings

    settings = load_settings(GatewaySettings, args.config)
    setup_logging(settings.log_level)
    run_gateway(settings)
    return 0


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    gateway = commands.add_parser("gateway", help="run and manage a community gateway")
    actions = gateway.add_subparsers(dest="gateway_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run the gateway until stopped")
    run.add_argument(
        "--config", type=Path, help="TOML settings (environment SG_GATEWAY_* overrides)"
    )
    run.set_defaults(func=_run)
