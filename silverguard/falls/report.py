"""The figures of one fall-detection run over one dataset, as text and as JSON.

- **sensitivity**: fall recordings in which the rule flagged a fall (opened its
  confirmation window) / fall recordings;
- **specificity**: daily-activity recordings without any flag / daily-activity
  recordings;
- **false alarms per hour**: flags in daily-activity recordings / their hours;
- **latency**: from the recording's peak acceleration (the impact) to the first flag at
  or after it (from up to 1 s before the peak); the confirmation window comes on top.
"""

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from silverguard.falls.dataset import Refusal
from silverguard.falls.replay import RecordingResult, RunSettings

# The gateway must decide within this long of the impact (before the 30 s cancel window).
LATENCY_TARGET_S = 3.0


@dataclass(frozen=True, slots=True)
class ActivityRow:
    activity: str
    is_fall: bool
    recordings: int
    flagged: int
    false_alarms: int  # flags in daily-activity recordings (0 for falls)
    hours: float


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(slots=True)
class Report:
    directory: str
    results: list[RecordingResult]
    refused: list[Refusal]
    settings: RunSettings

    @property
    def skipped(self) -> list[str]:
        return [str(r) for r in self.refused]

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
            ActivityRow(
                activity,
                is_fall,
                len(rs),
                sum(r.flagged for r in rs),
                0 if is_fall else sum(len(r.flags) for r in rs),
                round(sum(r.duration_s for r in rs) / 3600, 4),
            )
            for (activity, is_fall), rs in sorted(rows.items())
        ]

    def worst_activities(self, n: int = 5) -> list[ActivityRow]:
        """The daily activities with the most false alarms (share of recordings)."""
        rows = [row for row in self.by_activity() if not row.is_fall and row.flagged]
        return sorted(rows, key=lambda row: (-row.flagged / row.recordings, row.activity))[:n]

    def sources(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.results:
            for f in r.flags[:1]:
                counts[f.source] = counts.get(f.source, 0) + 1
        return counts

    def warning_counts(self) -> dict[str, int]:
        """How many recordings got each kind of warning (its words up to the colon)."""
        kinds: Counter[str] = Counter()
        for r in self.results:
            kinds.update({_kind(w) for w in r.warnings})
        return dict(sorted(kinds.items()))

    def as_dict(self) -> dict[str, Any]:
        lat = self.latencies
        rates = sorted(r.data_rate_hz for r in self.results)
        band = sorted({r.band_rate_hz for r in self.results})
        return {
            "directory": self.directory,
            "recordings": len(self.results),
            "falls": len(self.falls),
            "daily_activities": len(self.adls),
            "skipped": self.skipped,
            "refused": [{"file": r.file, "reason": r.reason} for r in self.refused],
            "sensitivity": _round(self.sensitivity),
            "specificity": _round(self.specificity),
            "false_alarms": self.false_alarms,
            "adl_hours": round(self.adl_hours, 3),
            "false_alarms_per_hour": _round(self.false_alarms_per_hour),
            "latency_median_s": _round(percentile(lat, 50)),
            "latency_p95_s": _round(percentile(lat, 95)),
            "latency_max_s": _round(lat[-1] if lat else None),
            "latency_within_target": _round(
                sum(v <= LATENCY_TARGET_S for v in lat) / len(lat) if lat else None
            ),
            "flagged_by": self.sources(),
            "by_activity": [_row_dict(row) for row in self.by_activity()],
            "worst_activities": [_row_dict(row) for row in self.worst_activities()],
            "missed_falls": [r.file for r in self.falls if not r.flagged],
            "false_alarm_recordings": [r.file for r in self.adls if r.flagged],
            "advert_interval_s": self.settings.advert_interval_s,
            "summary_detection": self.settings.summary_detection,
            "fall_sensitivity": str(self.settings.sensitivity),
            "band_rate_hz": [round(b, 2) for b in band]
            if len(band) <= 3
            else {"min": round(band[0], 2), "max": round(band[-1], 2)},
            "data_rate_hz": {
                "min": _round(rates[0], 2) if rates else None,
                "median": _round(percentile(rates, 50), 2),
                "max": _round(rates[-1], 2) if rates else None,
            },
            "warnings": self.warning_counts(),
            "warnings_by_recording": {r.file: r.warnings for r in self.results if r.warnings},
        }


def _row_dict(row: ActivityRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "activity": row.activity,
        "is_fall": row.is_fall,
        "recordings": row.recordings,
        "flagged": row.flagged,
    }
    if not row.is_fall:
        out["false_alarms"] = row.false_alarms
        out["hours"] = row.hours
        out["false_alarms_per_hour"] = (
            round(row.false_alarms / row.hours, 2) if row.hours > 0 else None
        )
    return out


def _kind(warning: str) -> str:
    """A warning's kind: its words before the colon, numbers left out."""
    head = re.sub(r"\([^)]*\)", "", warning.split(":", maxsplit=1)[0])
    return " ".join(re.sub(r"\d+(\.\d+)?", "N", head).split())
