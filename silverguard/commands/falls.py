"""``silverguard falls ...``: measure fall detection on recordings.

``evaluate DIR...`` runs the band's firmware step and the gateway's fall rule over
every recording of each dataset directory (index.csv + CSVs of t_s,ax_g,ay_g,az_g)
and prints sensitivity, specificity, false alarms per hour, detection latency and a
breakdown per activity; ``--split subject`` adds the figures per fold of subjects.
``tune DIR...`` chooses thresholds from a small, physically bounded grid on some
subjects (or datasets) and reports figures on the others only. ``generate DIR``
writes a synthetic dataset in that layout.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

_LEVELS = ("low", "standard", "high")


def _settings(args: argparse.Namespace) -> Any:
    from contract.careplan import FallSensitivity
    from silverguard.falls.replay import RunSettings

    return RunSettings(
        advert_interval_s=args.advert_interval,
        summary_detection=not args.no_summary_rule,
        sensitivity=FallSensitivity(args.sensitivity),
        band_rate_hz=args.band_rate,
    )


def _check(args: argparse.Namespace, command: str) -> str | None:
    from firmware_mocks.resample import MAX_RATE_HZ, MIN_RATE_HZ

    if args.advert_interval <= 0:
        return f"silverguard falls {command}: --advert-interval must be positive"
    if args.band_rate is not None and not MIN_RATE_HZ <= args.band_rate <= MAX_RATE_HZ:
        return (
            f"silverguard falls {command}: --band-rate must be {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz"
        )
    if args.folds < 2:
        return f"silverguard falls {command}: --folds must be 2 or more"
    return None


def _evaluate(args: argparse.Namespace) -> int:
    from silverguard.falls.dataset import DatasetError
    from silverguard.falls.evaluate import evaluate_dataset, load_dataset, subject_split
    from silverguard.falls.report_text import format_folds, format_report
    from silverguard.falls.splits import SplitError

    problem = _check(args, "evaluate")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    started = time.perf_counter()
    settings = _settings(args)
    outputs: list[dict[str, Any]] = []
    texts: list[str] = []
    for directory in args.directories:
        try:
            dataset = load_dataset(directory)
            report = evaluate_dataset(dataset, settings)
            out = report.as_dict()
            text = format_report(report, verbose=args.verbose)
            if args.split == "subject":
                folds, out["split"] = subject_split(report, dataset, args.folds)
                text += "\n\n" + format_folds(
                    folds, heading=f"  by fold of subjects ({args.folds} folds; nothing tuned)"
                )
        except (DatasetError, SplitError) as exc:
            print(f"silverguard falls evaluate: {exc}", file=sys.stderr)
            return 2
        outputs.append(out)
        texts.append(text)
    wall = round(time.perf_counter() - started, 2)
    if args.json:
        whole = outputs[0] if len(outputs) == 1 else {"datasets": outputs}
        print(json.dumps(whole | {"wall_time_s": wall}, ensure_ascii=False))
    else:
        print("\n\n".join(texts) + f"\n\nwall time {wall:.1f} s")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from silverguard.falls.dataset import DatasetError
    from silverguard.falls.report_text import format_tuning
    from silverguard.falls.splits import SplitError
    from silverguard.falls.tune import tune

    problem = _check(args, "tune")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        result = tune(args.directories, _settings(args), folds=args.folds)
    except (DatasetError, SplitError) as exc:
        print(f"silverguard falls tune: {exc}", file=sys.stderr)
        return 2
    wall = round(time.perf_counter() - started, 2)
    if args.json:
        print(json.dumps(result.as_dict() | {"wall_time_s": wall}, ensure_ascii=False))
    else:
        print(format_tuning(result) + f"\n\nwall time {wall:.1f} s")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from firmware_mocks.fall_recordings import SensorModel, write_dataset
    from firmware_mocks.resample import MIN_RATE_HZ

    if not MIN_RATE_HZ <= args.rate <= 200:
        print(f"silverguard falls generate: --rate must be {MIN_RATE_HZ:g}-200 Hz", file=sys.stderr)
        return 2
    sensor = SensorModel(
        rate_hz=args.rate,
        clip_g=args.clip,
        rotate=args.rotate,
        units=args.units,
        aliased=args.aliased,
        batch=args.batch,
        repeat_fraction=args.repeats,
        loss_fraction=args.loss,
    )
    paths = write_dataset(
        args.directory, per_activity=args.per_activity, sensor=sensor, seed=args.seed
    )
    print(f"wrote {len(paths)} recordings and index.csv to {args.directory}")
    return 0


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directories", type=Path, nargs="+", metavar="DIR")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--sensitivity",
        choices=_LEVELS,
        default="standard",
        help="the residents' fall sensitivity level (default standard)",
    )
    parser.add_argument(
        "--band-rate",
        type=float,
        default=None,
        metavar="HZ",
        help="play every recording as a band sampling at HZ (12.5-100; default: each "
        "recording's own rate by its timestamps, held to 12.5-100)",
    )
    parser.add_argument(
        "--folds", type=int, default=5, metavar="K", help="folds of subjects (default 5)"
    )
    parser.add_argument(
        "--advert-interval",
        type=float,
        default=1.0,
        metavar="S",
        help="the band's advert interval in seconds (default 1)",
    )
    parser.add_argument(
        "--no-summary-rule",
        action="store_true",
        help="only the band's fall flag, not the gateway's own summary-based detection",
    )


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    falls = commands.add_parser("falls", help="measure fall detection on recordings")
    actions = falls.add_subparsers(dest="falls_command", required=True, metavar="ACTION")

    ev = actions.add_parser(
        "evaluate",
        help="run the band firmware and the gateway's fall rule over datasets",
        description=(
            "Each DIR holds index.csv (columns file, subject, activity, is_fall, "
            "sample_rate_hz) and the recordings it lists: CSVs with the header "
            "t_s,ax_g,ay_g,az_g (seconds, g; m/s^2 is recognised and converted). Any "
            "rate from about 12.5 to 200 Hz, jittered or batched timestamps, repeated "
            "samples and short gaps are read; a recording that cannot be read is refused "
            "with the reason and the others are evaluated."
        ),
    )
    _run_options(ev)
    ev.add_argument("--verbose", action="store_true", help="list misses, false alarms, warnings")
    ev.add_argument(
        "--split",
        choices=("subject",),
        default=None,
        help="also give the figures per fold of subjects (--folds K)",
    )
    ev.add_argument(
        "--skip-bad",
        action="store_true",
        help="(the default now) unreadable recordings are refused and listed, the rest evaluated",
    )
    ev.set_defaults(func=_evaluate)

    tu = actions.add_parser(
        "tune",
        help="choose thresholds on some subjects or datasets, report figures on the others",
        description=(
            "Chooses the band's flag score, activity veto and posture anchors from a small "
            "grid with physical bounds, on the other folds of subjects only (and, with "
            "several DIRs, on the other datasets only), and reports held-out figures. Run "
            "it on data your site is licensed to use; nothing it learns ships."
        ),
    )
    _run_options(tu)
    tu.add_argument(
        "--split", choices=("subject",), default="subject", help="folds of subjects (the default)"
    )
    tu.set_defaults(func=_tune)

    gen = actions.add_parser("generate", help="write a synthetic fall/daily-activity dataset")
    gen.add_argument("directory", type=Path, metavar="DIR")
    gen.add_argument("--per-activity", type=int, default=10, help="recordings per activity")
    gen.add_argument("--rate", type=float, default=50.0, help="sample rate in Hz (12.5-200)")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--clip", type=float, default=8.0, metavar="G", help="sensor range +-G")
    gen.add_argument("--rotate", action="store_true", help="mount each band turned at random")
    gen.add_argument("--units", choices=("g", "m/s2"), default="g")
    gen.add_argument("--aliased", action="store_true", help="no anti-aliasing filter")
    gen.add_argument("--batch", type=int, default=1, metavar="N", help="N samples per timestamp")
    gen.add_argument("--repeats", type=float, default=0.0, help="share of samples repeated")
    gen.add_argument("--loss", type=float, default=0.0, help="share of samples lost")
    gen.set_defaults(func=_generate)
