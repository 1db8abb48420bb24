"""``silverguard fleet ...``: run and manage the fleet service."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from silverguard.commands.common import setup_logging
from silverguard.config import load_settings

if TYPE_CHECKING:
    from fleet.settings import FleetSettings


def fleet_settings(args: argparse.Namespace) -> "FleetSettings":
    from fleet.settings import FleetSettings

    return load_settings(
        FleetSettings,
        args.config,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_dir=getattr(args, "data_dir", None),
    )


def _serve(args: argparse.Namespace) -> int:
    from fleet.main import ListenError, serve

    settings = fleet_settings(args)
    setup_logging(settings.log_level)
    try:
        serve(settings)
    except ListenError as exc:
        print(f"silverguard: {exc}; choose another --port", file=sys.stderr)
        return 1
    return 0


def _token(args: argparse.Namespace) -> int:
    from fleet.auth import Role, issue_token
    from fleet.db.models import Caregiver, Town, User
    from fleet.db.session import make_engine, make_sessionmaker, migrate
    from fleet.registry import audit, users

    settings = fleet_settings(args)
    role = Role(args.role)
    url = settings.resolved_database_url
    migrate(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            user = session.get(User, args.subject)
            if user is not None and user.role != role.value:
                print(
                    f"silverguard: {args.subject} is a {user.role} account, not {role.value}",
                    file=sys.stderr,
                )
                return 2
            if role is Role.STAFF and not (args.town or (user and user.town_id)):
                print(
                    "silverguard: a staff token needs --town (the town they serve)", file=sys.stderr
                )
                return 2
            if args.town and session.get(Town, args.town) is None:
                print(f"silverguard: town {args.town} does not exist", file=sys.stderr)
                return 2
            if role is Role.CAREGIVER and session.get(Caregiver, args.subject) is None:
                print(
                    f"silverguard: {args.subject} is not a registered caregiver id",
                    file=sys.stderr,
                )
                return 2
            if user is None:
                user = users.create_user(
                    session, user_id=args.subject, role=role, town_id=args.town, check=False
                )
            if args.town:
                user.town_id = args.town
            session.flush()
            token = issue_token(session, subject=args.subject, role=role)
            audit.record(session, "cli:fleet-token", "token.issue", args.subject, role=role.value)
    finally:
        engine.dispose()
    print(token)
    return 0


def _backfill(args: argparse.Namespace) -> int:
    """Fold raw telemetry of a span into the minute and hourly tiers (docs/timeseries.md)."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from fleet.timeseries.influx import InfluxError, InfluxWriter

    settings = fleet_settings(args)
    until = datetime.now(UTC)
    since = until - timedelta(hours=args.hours)

    async def run() -> None:
        writer = InfluxWriter(settings.influx)
        try:
            await writer.backfill(since, until)
        finally:
            await writer.aclose()

    try:
        asyncio.run(run())
    except InfluxError as exc:
        print(f"silverguard: {exc}", file=sys.stderr)
        return 1
    print(f"folded {since:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UTC into the aggregates")
    return 0


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    fleet = commands.add_parser("fleet", help="run and manage the fleet service")
    actions = fleet.add_subparsers(dest="fleet_command", required=True, metavar="ACTION")
    serve = actions.add_parser("serve", help="serve the API and consume gateway messages")
    serve.add_argument(
        "--config", type=Path, help="TOML settings (environment SG_FLEET_* overrides)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", type=Path, help="holds the SQLite registry and fleet state")
    serve.set_defaults(func=_serve)
    token = actions.add_parser("token", help="print a new API bearer token")
    token.add_argument("--config", type=Path)
    token.add_argument("--data-dir", type=Path)
    token.add_argument("--role", choices=["admin", "staff", "caregiver"], default="admin")
    token.add_argument(
        "--subject", default="admin", help="the user or caregiver id the token is for"
    )
    token.add_argument("--town", help="staff only: the town (id) they serve")
    token.set_defaults(func=_token)
    backfill = actions.add_parser(
        "backfill-aggregates",
        help="fold late telemetry of the last hours into the minute and hourly aggregates",
    )
    backfill.add_argument("--config", type=Path)
    backfill.add_argument("--hours", type=float, default=24.0, help="how far back (hours)")
    backfill.set_defaults(func=_backfill)
