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
    from edge.ble.scanner import BackendChoice
    from edge.settings import GatewaySettings, RadioSettings


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
    from edge.ble.scanner import bluez_backend

    settings = gateway_settings(args.config)
    setup_logging(settings.log_level)
    simulated = settings.radio.backend == "simulated"
    run_gateway(settings, radio_backend=simulated_radio if simulated else bluez_backend)
    return 0


def simulated_radio(settings: "RadioSettings", gateway_id: str) -> "BackendChoice":
    """The simulated air of firmware_mocks, below bleak, for the demo and the tests."""
    from firmware_mocks.bleak_backend import SimulatedBleakScanner

    return SimulatedBleakScanner, {
        "air": settings.air,
        "gateway_id": gateway_id,
        "position": settings.position,
    }


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


def _enroll(args: argparse.Namespace) -> int:
    from edge.enroll import EnrollError, enroll

    data_dir = args.data_dir
    if data_dir is None:
        from edge.settings import GatewaySettings

        data_dir = GatewaySettings.model_fields["data_dir"].default
    # "-": read from stdin, so the token stays out of the shell history and ps output.
    from_stdin = args.token.strip() == "-"
    token = sys.stdin.readline().strip() if from_stdin else args.token
    try:
        result = enroll(args.fleet, token, data_dir, cafile=args.fleet_ca, force=args.force)
    except EnrollError as exc:
        print(f"silverguard: enrollment failed: {exc}", file=sys.stderr)
        print(f"silverguard: 注册失败: {exc}", file=sys.stderr)
        return 1
    print(f"enrolled as gateway {result.gateway_id} / 网关注册成功: {result.gateway_id}")
    print(f"  broker: {result.broker} ({'TLS' if result.tls else 'no TLS'})")
    print(f"  first config: version {result.config_version}")
    print(
        f"  files (mode 0600) in {result.data_dir}: enrollment.json, config.json"
        + (", ca.crt" if result.tls else "")
    )
    return 0


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
    enroll = actions.add_parser(
        "enroll",
        help="enroll this gateway with the fleet using a one-time token",
        description=(
            "Make this gateway's key pair, present the one-time token to the fleet, and "
            "store the MQTT credentials, the broker's CA and the first config in the data "
            "directory (mode 0600)."
        ),
    )
    enroll.add_argument(
        "--fleet", required=True, help="the fleet's URL, e.g. https://fleet.example"
    )
    enroll.add_argument(
        "--token", required=True, help="the one-time enrollment token ('-' reads it from stdin)"
    )
    enroll.add_argument(
        "--data-dir",
        type=Path,
        help="where the gateway keeps its state (default /var/lib/silverguard/gateway)",
    )
    enroll.add_argument(
        "--fleet-ca", type=Path, help="CA certificate of the fleet's HTTPS (if private)"
    )
    enroll.add_argument("--force", action="store_true", help="replace an existing enrollment")
    enroll.set_defaults(func=_enroll)
