"""``silverguard gateway ...``: run and inspect a community gateway."""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from silverguard.commands.common import setup_logging
from silverguard.config import ConfigError, load_settings

if TYPE_CHECKING:
    from edge.settings import GatewaySettings


def gateway_settings(config: Path | None, **overrides: Any) -> "GatewaySettings":
    """Settings from the file and environment, completed from the enrollment files."""
    from edge.identity import IdentityError, resolve_identity
    from edge.settings import GatewaySettings

    settings = load_settings(GatewaySettings, config, **overrides)
    try:
        return resolve_identity(settings)
    except IdentityError as exc:
        raise ConfigError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    from edge.app import run_gateway

    settings = gateway_settings(args.config)
    setup_logging(settings.log_level)
    run_gateway(settings)
    return 0


def _status(args: argparse.Namespace) -> int:
    from edge.status import read_gateway_status, render

    if args.data_dir is not None:
        data_dir: Path = args.data_dir
    else:
        from edge.settings import GatewaySettings

        # Only the data directory is needed: no identity, so this works on a box that
        # is not enrolled yet.
        data_dir = load_settings(GatewaySettings, args.config).data_dir
    now = time.time()
    report = read_gateway_status(data_dir, now)
    if args.json:
        json.dump(report.as_json(now), sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print(render(report, now))
    # Like `systemctl status`: 0 while running, 3 when not.
    return 0 if report.running else 3


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    gateway = commands.add_parser("gateway", help="run and inspect a community gateway")
    actions = gateway.add_subparsers(dest="gateway_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run the gateway until stopped")
    run.add_argument(
        "--config", type=Path, help="TOML settings (environment SG_GATEWAY_* overrides)"
    )
    run.set_defaults(func=_run)
    status = actions.add_parser(
        "status",
        help="show the local gateway's state: uplink, outbox backlog, config, counters",
        description=(
            "Reads DATA_DIR/status.json (rewritten by the running gateway every few seconds) "
            "and the outbox database (read-only). Works whether the gateway runs or not. "
            "Exit status: 0 running, 3 not running."
        ),
    )
    where = status.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, help="the gateway's data directory")
    where.add_argument(
        "--config", type=Path, help="the gateway's TOML settings (its data_dir is used)"
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)
