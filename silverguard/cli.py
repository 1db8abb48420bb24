"""The ``silverguard`` command. Each subcommand imports only what it needs, so the
gateway's commands run on a Pi that has no fleet dependencies installed."""

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from silverguard import __version__
from silverguard.config import ConfigError, load_settings


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _gateway_run(args: argparse.Namespace) -> int:
    from edge.app import run_gateway
    from edge.settings import GatewaySettings

    settings = load_settings(GatewaySettings, args.config)
    _logging(settings.log_level)
    run_gateway(settings)
    return 0


def _fleet_settings(args: argparse.Namespace) -> "object":
    from fleet.settings import FleetSettings

    return load_settings(
        FleetSettings,
        args.config,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_dir=getattr(args, "data_dir", None),
    )


def _fleet_serve(args: argparse.Namespace) -> int:
    from fleet.main import serve
    from fleet.settings import FleetSettings

    settings = _fleet_settings(args)
    assert isinstance(settings, FleetSettings)
    _logging(settings.log_level)
    serve(settings)
    return 0


def _fleet_token(args: argparse.Namespace) -> int:
    from fleet.auth import Role, issue_token
    from fleet.db.session import make_engine, make_sessionmaker, migrate
    from fleet.settings import FleetSettings

    settings = _fleet_settings(args)
    assert isinstance(settings, FleetSettings)
    url = settings.resolved_database_url
    migrate(url)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        token = issue_token(session, subject=args.subject, role=Role(args.role))
    engine.dispose()
    print(token)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from silverguard.demo import run_demo

    _logging("WARNING")
    return run_demo(
        duration_s=args.duration,
        bands=args.bands,
        gateways=args.gateways,
        keep_data=args.keep_data,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="silverguard",
        description="Silverguard: gateways and a fleet service that watch over elderly people living alone.",
    )
    parser.add_argument("--version", action="version", version=f"silverguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gateway = commands.add_parser("gateway", help="run and manage a community gateway")
    gateway_cmds = gateway.add_subparsers(dest="gateway_command", required=True, metavar="ACTION")
    run = gateway_cmds.add_parser("run", help="run the gateway until stopped")
    run.add_argument(
        "--config", type=Path, help="TOML settings (environment SG_GATEWAY_* overrides)"
    )
    run.set_defaults(func=_gateway_run)

    fleet = commands.add_parser("fleet", help="run and manage the fleet service")
    fleet_cmds = fleet.add_subparsers(dest="fleet_command", required=True, metavar="ACTION")
    serve = fleet_cmds.add_parser("serve", help="serve the API and consume gateway messages")
    serve.add_argument(
        "--config", type=Path, help="TOML settings (environment SG_FLEET_* overrides)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", type=Path, help="holds the SQLite registry and fleet state")
    serve.set_defaults(func=_fleet_serve)
    token = fleet_cmds.add_parser("token", help="print a new API bearer token")
    token.add_argument("--config", type=Path)
    token.add_argument("--data-dir", type=Path)
    token.add_argument("--role", choices=["admin", "staff", "caregiver"], default="admin")
    token.add_argument(
        "--subject", default="admin", help="the user or caregiver id the token is for"
    )
    token.set_defaults(func=_fleet_token)

    demo = commands.add_parser(
        "demo", help="run a simulated district: broker, InfluxDB, fleet, gateways, wristbands"
    )
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--bands", type=int, default=36, help="simulated wristbands (default 36)")
    demo.add_argument("--gateways", type=int, default=3, help="simulated gateways (default 3)")
    demo.add_argument("--keep-data", action="store_true", help="keep the demo's data directory")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as exc:
        print(f"silverguard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
