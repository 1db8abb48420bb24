"""Evaluating fall detection on recorded falls and daily activities.

Each recording goes through what happens in the field, end to end:

1. the band's firmware step (firmware_mocks.motion): resampling, the full-rate fall
   detector, one motion summary per advert interval;
2. the band's radio (firmware_mocks.wristband): encrypted BTHome adverts, the fall
   flag repeated with its age;
3. the gateway: the real decoder (bthome-ble plus our replay check), the wristband
   profile, and the rule engine's fall rule (flag or summaries).

A fall recording counts as detected if the rule flagged a fall (opened its
confirmation window) at any point; a daily-activity recording counts as a false alarm
if it did. Latency runs from the recording's peak acceleration (the impact) to the
first flag at or after it (the confirmation window comes on top).
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from contract.rules import FallSettings, GatewayRules
from edge.ble.advert import Advert
from edge.decode.bthome import BTHomeDecoder, Reject
from edge.decode.profile import interpret
from edge.rules.config import RulesConfig
from edge.rules.engine import RuleEngine
from firmware_mocks.motion import FallThresholds, MotionFirmware
from firmware_mocks.wristband import Wristband
from silverguard.falls.dataset import DatasetError, Recording, Sample, read_index, read_samples

_MAC = "C2:FA:11:00:00:01"
_KEY = bytes(range(16))
# Recordings start at t = 0; the rules run on Unix time.
_EPOCH = 1_790_000_000.0
# A flag up to this long before the recording's absolute peak still belongs to the
# fall: the band may judge an earlier, slightly smaller impact of the same fall.
_EARLY_S = 1.0


@dataclass(frozen=True, slots=True)
class Flag:
    t: float  # recording time when the rule flagged a fall
    source: str  # band (its fall flag) or summaries (the gateway's own detection)


@dataclass(slots=True)
class RecordingResult:
    file: str
    subject: str
    activity: str
    is_fall: bool
    duration_s: float
    peak_t: float
    peak_g: float
    flags: list[Flag] = field(default_factory=list)
    best_score: float | None = None  # highest band-detector score seen (diagnostics)

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    @property
    def latency_s(self) -> float | None:
        if not self.is_fall:
            return None
        after = [f.t - self.peak_t for f in self.flags if f.t >= self.peak_t - _EARLY_S]
        return min(after) if after else None


@dataclass(frozen=True, slots=True)
class ActivityRow:
    activity: str
    is_fall: bool
    recordings: int
    flagged: int


@dataclass(slots=True)
class Report:
    directory: str
    results: list[RecordingResult]
    skipped: list[str]
    advert_interval_s: float
    summary_detection: bool

    @property
    def falls(self) -> list[RecordingResult]:
        return [r for r in self.results if r.is_fall]

    @property
    def adls(self) -> list[RecordingResult]:
        return [r for r in self.results if not r.is_fall]

    @property
    def sensitivity(self) -> float | None:
        falls = self.falls
        return sum(r.flagged for r in falls) / len(falls) if falls else None

    @property
    def specificity(self) -> float | None:
        adls = self.adls
        return sum(not r.flagged for r in adls) / len(adls) if adls else None

    @property
    def adl_hours(self) -> float:
        return sum(r.duration_s for r in self.adls) / 3600

    @property
    def false_alarms(self) -> int:
        return sum(len(r.flags) for r in self.adls)

    @property
    def false_alarms_per_hour(self) -> float | None:
        hours = self.adl_hours
        return self.false_alarms / hours if hours > 0 else None

    @property
    def latencies(self) -> list[float]:
        return sorted(lat for r in self.falls if (lat := r.latency_s) is not None)

    def by_activity(self) -> list[ActivityRow]:
        rows: dict[tuple[str, bool], list[RecordingResult]] = {}
        for r in self.results:
            rows.setdefault((r.activity, r.is_fall), []).append(r)
        return [
            ActivityRow(activity, is_fall, len(rs), sum(r.flagged for r in rs))
            for (activity, is_fall), rs in sorted(rows.items())
        ]

    def sources(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.results:
            for f in r.flags[:1]:
                counts[f.source] = counts.get(f.source, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        lat = self.latencies
        return {
            "directory": self.directory,
            "recordings": len(self.results),
            "falls": len(self.falls),
            "daily_activities": len(self.adls),
            "skipped": self.skipped,
            "sensitivity": _round(self.sensitivity),
            "specificity": _round(self.specificity),
            "false_alarms": self.false_alarms,
            "adl_hours": round(self.adl_hours, 3),
            "false_alarms_per_hour": _round(self.false_alarms_per_hour),
            "latency_median_s": _round(percentile(lat, 50)),
            "latency_p95_s": _round(percentile(lat, 95)),
            "latency_max_s": _round(lat[-1] if lat else None),
            "flagged_by": self.sources(),
            "by_activity": [asdict(row) for row in self.by_activity()],
            "missed_falls": [r.file for r in self.falls if not r.flagged],
            "false_alarm_recordings": [r.file for r in self.adls if r.flagged],
            "advert_interval_s": self.advert_interval_s,
            "summary_detection": self.summary_detection,
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def run_recording(
    recording: Recording,
    samples: list[Sample],
    *,
    advert_interval_s: float = 1.0,
    thresholds: FallThresholds | None = None,
    fall_settings: FallSettings | None = None,
) -> RecordingResult:
    """One recording through band firmware, radio format, decoder and fall rule."""
    peak_t, peak_g = _peak(samples)
    t0 = samples[0][0]
    band = Wristband(_MAC, _KEY, counter=1000, status_every=10)
    decoder = BTHomeDecoder({_MAC: _KEY})
    rules = GatewayRules(fall=fall_settings or FallSettings())
    engine = RuleEngine("gw-eval", RulesConfig(rules=rules))
    firmware = MotionFirmware(
        advert_interval_s, thresholds=thresholds, sensor_rate_hz=recording.sample_rate_hz
    )
    result = RecordingResult(
        recording.file,
        recording.subject,
        recording.activity,
        recording.is_fall,
        duration_s=samples[-1][0] - t0,
        peak_t=peak_t,
        peak_g=peak_g,
    )
    for t, ax, ay, az in samples:
        for output in firmware.push(t, ax, ay, az):
            if output.fall_flag:
                band.flag_fall()
            now = _EPOCH + output.t
            decoded = decoder.decode(Advert(_MAC, -60, band.next_service_data(output.summary), now))
            if isinstance(decoded, Reject):  # cannot happen: the band and key are ours
                raise RuntimeError(f"the gateway refused the band's own advert: {decoded}")
            engine.on_frame(interpret(decoded), now)
            engine.on_tick(now)
            for suspected in engine.take_suspected():
                result.flags.append(Flag(round(suspected.at - _EPOCH, 3), suspected.source))
    scores = [e.score for e in firmware.detector.evidence]
    result.best_score = round(max(scores), 3) if scores else None
    return result


def _peak(samples: list[Sample]) -> tuple[float, float]:
    t, g = samples[0][0], 0.0
    for st, x, y, z in samples:
        m = math.sqrt(x * x + y * y + z * z)
        if m > g:
            t, g = st, m
    return t, g


def evaluate(
    directory: Path,
    *,
    advert_interval_s: float = 1.0,
    summary_detection: bool = True,
    skip_bad: bool = False,
    thresholds: FallThresholds | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Evaluate every recording of a dataset directory; raise DatasetError if any
    cannot be read (unless ``skip_bad``: then they are listed in ``Report.skipped``)."""
    recordings = read_index(directory)
    settings = FallSettings(summary_detection=summary_detection)
    results: list[RecordingResult] = []
    problems: list[str] = []
    for i, recording in enumerate(recordings, start=1):
        try:
            samples = read_samples(recording)
        except DatasetError as exc:
            problems.append(str(exc))
            continue
        results.append(
            run_recording(
                recording,
                samples,
                advert_interval_s=advert_interval_s,
                thresholds=thresholds,
                fall_settings=settings,
            )
        )
        if progress is not None:
            progress(i, len(recordings))
    if problems and not skip_bad:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DatasetError(
            f"{len(problems)} recording(s) cannot be read (--skip-bad evaluates the rest):"
            f"\n  {shown}{more}"
        )
    if not results:
        raise DatasetError("no recording could be read")
    return Report(str(directory), results, problems, advert_interval_s, summary_detection)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def format_report(report: Report, *, verbose: bool = False) -> str:
    falls, adls = report.falls, report.adls
    lat = report.latencies
    fa_h = report.false_alarms_per_hour
    lines = [
        f"Fall detection on {report.directory}",
        f"  {len(report.results)} recordings: {len(falls)} falls, {len(adls)} daily "
        f"activities ({report.adl_hours:.2f} h); advert interval {report.advert_interval_s:g} s,"
        f" summary rule {'on' if report.summary_detection else 'off'}",
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
        "  activity  kind  recordings  flagged  not flagged",
    ]
    for row in report.by_activity():
        kind = "fall" if row.is_fall else "ADL "
        lines.append(
            f"  {row.activity:<8}  {kind}  {row.recordings:>10}  {row.flagged:>7}  "
            f"{row.recordings - row.flagged:>11}"
        )
    if report.skipped:
        lines += ["", f"  skipped {len(report.skipped)} unreadable recording(s):"]
        lines += [f"    {p}" for p in report.skipped]
    if verbose:
        lines += ["", "  missed falls:"]
        lines += _listing(r for r in falls if not r.flagged)
        lines += ["  false alarms:"]
        lines += _listing(r for r in adls if r.flagged)
    return "\n".join(lines)


def _listing(results: Iterable[RecordingResult]) -> list[str]:
    out = []
    for r in results:
        flags = ", ".join(f"{f.source}@{f.t:.1f}s" for f in r.flags) or "-"
        out.append(
            f"    {r.file}: peak {r.peak_g:.2f} g at {r.peak_t:.2f} s, band score "
            f"{r.best_score if r.best_score is not None else '-'}, flags {flags}"
        )
    return out or ["    (none)"]
