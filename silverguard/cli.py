"""The ``silverguard`` command: one subcommand group per module in silverguard.commands."""

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from contract import __version__
from silverguard.config import ConfigError

# Each module has register(commands). Add a group by adding its module here.
COMMAND_MODULES = (
    "silverguard.commands.gateway",
    "silverguard.commands.fleet",
    "silverguard.commands.demo",
    "silverguard.commands.bench",
    "silverguard.commands.falls",
    "silverguard.commands.meters",
    "silverguard.commands.sim",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="silverguard",
        description=(
            "Silverguard: gateways and a fleet service that watch over elderly people living alone."
        ),
    )
    parser.add_argument("--version", action="version", version=f"silverguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
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
