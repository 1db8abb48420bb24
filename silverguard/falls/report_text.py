"""Fall-detection figures as text for a person reading a terminal."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from silverguard.falls.replay import RecordingResult
from silverguard.falls.report import Report, percentile
from silverguard.falls.splits import FoldFigures

if TYPE_CHECKING:
    from silverguard.falls.tune import TuneResult


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def format_report(report: Report, *, verbose: bool = False, title: str | None = None) -> str:
    falls, adls = report.falls, report.adls
    lat = report.latencies
    fa_h = report.false_alarms_per_hour
    settings = report.settings
    lines = [
        title or f"Fall detection on {report.directory}",
        f"  {len(report.results)} recordings: {len(falls)} falls, {len(adls)} daily "
        f"activities ({report.adl_hours:.2f} h); advert interval {settings.advert_interval_s:g} s,"
        f" summary rule {'on' if settings.summary_detection else 'off'}, fall sensitivity "
        f"{settings.sensitivity}, band rate {_band_rates(report)}",
        "",
        f"  sensitivity        {_pct(report.sensitivity):>8}  "
        f"({sum(r.flagged for r in falls)} of {len(falls)} falls flagged)",
        f"  specificity        {_pct(report.specificity):>8}  "
        f"({sum(not r.flagged for r in adls)} of {len(adls)} daily activities without a flag)",
        f"  false alarms       {'n/a' if fa_h is None else f'{fa_h:.2f}':>8}  per hour of daily "
        f"activity ({report.false_alarms} flags)",
        f"  latency median     {_s(percentile(lat, 50)):>8}  from the impact (peak) to the flag",
        f"  latency p95        {_s(percentile(lat, 95)):>8}",
        "  flagged by         "
        + (", ".join(f"{k} {v}" for k, v in sorted(report.sources().items())) or "-"),
        "",
        "  activity  kind  recordings  flagged  not flagged  false alarms/h",
    ]
    for row in report.by_activity():
        kind = "fall" if row.is_fall else "ADL "
        per_hour = "" if row.is_fall or not row.hours else f"{row.false_alarms / row.hours:.1f}"
        lines.append(
            f"  {row.activity:<8}  {kind}  {row.recordings:>10}  {row.flagged:>7}  "
            f"{row.recordings - row.flagged:>11}  {per_hour:>14}"
        )
    warnings = report.warning_counts()
    if warnings:
        lines += ["", "  read with warnings (recordings):"]
        lines += [f"    {n:>4}  {kind}" for kind, n in warnings.items()]
    if report.refused:
        lines += ["", f"  refused {len(report.refused)} recording(s):"]
        lines += [f"    {r}" for r in report.refused]
    if verbose:
        lines += ["", "  missed falls:"]
        lines += _listing(r for r in falls if not r.flagged)
        lines += ["  false alarms:"]
        lines += _listing(r for r in adls if r.flagged)
        lines += ["  warnings:"]
        lines += [f"    {r.file}: {w}" for r in report.results for w in r.warnings] or [
            "    (none)"
        ]
    return "\n".join(lines)


def _band_rates(report: Report) -> str:
    rates = sorted({r.band_rate_hz for r in report.results})
    if not rates:
        return "-"
    if rates[0] == rates[-1]:
        return f"{rates[0]:g} Hz"
    return f"{rates[0]:.1f}-{rates[-1]:.1f} Hz (each recording's own)"


def _listing(results: Iterable[RecordingResult]) -> list[str]:
    out = []
    for r in results:
        flags = ", ".join(f"{f.source}@{f.t:.1f}s" for f in r.flags) or "-"
        out.append(
            f"    {r.file}: peak {r.peak_g:.2f} g at {r.peak_t:.2f} s, band score "
            f"{r.best_score if r.best_score is not None else '-'}, flags {flags}"
        )
    return out or ["    (none)"]


def format_folds(folds: list[FoldFigures], *, heading: str) -> str:
    lines = [heading, "  fold  subjects  falls  ADLs  sensitivity  specificity  chosen"]
    for f in folds:
        lines.append(
            f"  {f.fold:>4}  {len(f.subjects):>8}  {f.falls:>5}  {f.adls:>4}  "
            f"{_pct(f.sensitivity):>11}  {_pct(f.specificity):>11}  {f.chosen or '-'}"
        )
    return "\n".join(lines)


def format_tuning(result: "TuneResult") -> str:
    """A tuning run: per dataset the figures held out by subject, then by dataset."""
    lines = [
        f"Tuning {result.choices} threshold choices (flag score, activity veto, posture anchors); "
        "every figure below is on recordings the choice was not made on.",
    ]
    for d in result.datasets:
        lines += [
            "",
            format_report(
                d.held_out,
                title=f"Held out by subject: {d.directory} ({len(d.folds)} folds)",
            ),
            "",
            format_folds(d.folds, heading="  chosen on the other folds:"),
            f"  chosen on all of it (what this site would run): {d.chosen_on_all}",
        ]
    for lo in result.leave_one_dataset_out:
        lines += [
            "",
            format_report(
                lo.held_out,
                title=f"Held out by dataset: {lo.held_out.directory} "
                f"(chosen on {', '.join(lo.tuned_on)}: {lo.chosen})",
            ),
        ]
    return "\n".join(lines)
