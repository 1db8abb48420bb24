"""``silverguard falls ...``: measure fall detection on recordings.

``evaluate DIR`` runs the band's firmware step and the gateway's fall rule over every
recording of a dataset directory (index.csv + CSVs of t_s,ax_g,ay_g,az_g) and prints
sensitivity, specificity, false alarms per hour, detection latency and a breakdown per
activity. ``generate DIR`` writes a synthetic dataset in that layout.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _evaluate(args: argparse.Namespace) -> int:
    from silverguard.falls.dataset import DatasetError
    from silverguard.falls.evaluate import evaluate, format_report

    if args.advert_interval <= 0:
        print("silverguard falls evaluate: --advert-interval must be positive", file=sys.stderr)
        return 2
    try:
        report = evaluate(
            args.directory,
            advert_interval_s=args.advert_interval,
            summary_detection=not args.no_summary_rule,
            skip_bad=args.skip_bad,
        )
    except DatasetError as exc:
        print(f"silverguard falls evaluate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(format_report(report, verbose=args.verbose))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from firmware_mocks.fall_recordings import write_dataset

    if not 20 <= args.rate <= 200:
        print("silverguard falls generate: --rate must be 20-200 Hz", file=sys.stderr)
        return 2
    paths = write_dataset(
        args.directory, per_activity=args.per_activity, rate_hz=args.rate, seed=args.seed
    )
    print(f"wrote {len(paths)} recordings and index.csv to {args.directory}")
    return 0


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    falls = commands.add_parser("falls", help="measure fall detection on recordings")
    actions = falls.add_subparsers(dest="falls_command", required=True, metavar="ACTION")

    ev = actions.add_parser(
        "evaluate",
        help="run the band firmware and the gateway's fall rule over a dataset",
        description=(
            "DIR holds index.csv (columns file, subject, activity, is_fall, sample_rate_hz) "
            "and the recordings it lists: CSVs with the header t_s,ax_g,ay_g,az_g "
            "(seconds, g), 20-200 Hz."
        ),
    )
    ev.add_argument("directory", type=Path, metavar="DIR")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--verbose", action="store_true", help="list missed falls and false alarms")
    ev.add_argument(
        "--advert-interval",
        type=float,
        default=1.0,
        metavar="S",
        help="the band's advert interval in seconds (default 1)",
    )
    ev.add_argument(
        "--no-summary-rule",
        action="store_true",
        help="only the band's fall flag, not the gateway's own summary-based detection",
    )
    ev.add_argument(
        "--skip-bad", action="store_true", help="evaluate the readable recordings, list the rest"
    )
    ev.set_defaults(func=_evaluate)

    gen = actions.add_parser("generate", help="write a synthetic fall/daily-activity dataset")
    gen.add_argument("directory", type=Path, metavar="DIR")
    gen.add_argument("--per-activity", type=int, default=10, help="recordings per activity")
    gen.add_argument("--rate", type=float, default=50.0, help="sample rate in Hz (20-200)")
    gen.add_argument("--seed", type=int, default=1)
    gen.set_defaults(func=_generate)
