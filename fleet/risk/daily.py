"""The day's risk tags for every resident: gather the facts from the registry, evaluate
them (fleet.risk.tags, pure) and keep each tag's span of days in ``risk_tags``.

Run once a day (``silverguard``'s fleet runs it in the background after local
midnight; ``POST /api/v1/risk/evaluate`` runs it by hand). Running a day again gives
the same rows: a tag that no longer holds on a re-run is reopened or removed as if the
first run had not happened.

Telemetry facts (activity against the resident's own baseline, night-time activity)
come from the caller in ``activity``, computed from the time series; without them
those facts are missing, never "fine".
"""

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from contract import EventKind
from fleet import clock
from fleet.db.models import (
    Alert,
    EventRecord,
    Meter,
    Resident,
    RiskReport,
    RiskTagRow,
    Wristband,
)
from fleet.risk import tags as risk_tags
from fleet.risk.facts import Facts
from fleet.risk.tags import Tag, TagHit

# Conditions that mean "dementia" in the health center's words (zh-CN and en).
DEMENTIA = frozenset({"dementia", "alzheimer", "认知障碍", "痴呆", "阿尔茨海默"})

_WINDOWS = {
    EventKind.FALL: ("falls_30d", 30),
    EventKind.FALL_CANCELLED: ("near_falls_30d", 30),
    EventKind.NOT_WORN: ("not_worn_7d", 7),
    EventKind.LOW_BATTERY: ("battery_flat_30d", 30),
    EventKind.NOT_SEEN: ("battery_flat_30d", 30),
    EventKind.MISSED_DOSE: ("missed_doses_7d", 7),
    EventKind.NO_WATER: ("no_water_mornings_7d", 7),
    EventKind.WATER_RUNNING: ("water_running_7d", 7),
    EventKind.SOS: ("sos_30d", 30),
}


@dataclass(frozen=True, slots=True)
class Activity:
    ratio_7d: float | None
    night_share_7d: float | None


@dataclass(frozen=True, slots=True)
class DayResult:
    day: date
    residents: int
    tags: int  # tags holding today, over all residents
    started: int  # tags that began today
    ended: int  # tags that stopped holding today


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), clock.zone())


def gather(
    session: Session,
    day: date,
    residents: list[Resident],
    activity: Mapping[str, Activity] | None = None,
) -> dict[str, Facts]:
    """Every resident's facts as of the end of ``day`` (local)."""
    end = _end_of(day)
    since = end - timedelta(days=30)
    ids = {r.id for r in residents}
    band_of = dict(
        session.execute(
            select(Wristband.mac, Wristband.resident_id).where(Wristband.resident_id.in_(ids))
        ).all()
    )
    by_flat = {r.flat: r.id for r in residents if r.flat}
    meter_flat = dict(session.execute(select(Meter.id, Meter.flat)).all())
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    rows = session.execute(
        select(EventRecord.kind, EventRecord.device, EventRecord.occurred_at, EventRecord.evidence)
        .where(
            EventRecord.occurred_at >= since,
            EventRecord.occurred_at < end,
            EventRecord.kind.in_([k.value for k in _WINDOWS]),
        )
        .order_by(EventRecord.occurred_at)
    ).all()
    for kind, device, occurred_at, evidence in rows:
        resident = band_of.get(device)
        if resident is None:
            flat = meter_flat.get(device) or (evidence or {}).get("flat")
            resident = by_flat.get(flat) if isinstance(flat, str) else None
        if resident is None:
            continue
        fact, days = _WINDOWS[EventKind(kind)]
        if occurred_at >= end - timedelta(days=days):
            counts[resident][fact] += 1
    unanswered = Counter(
        session.execute(
            select(Alert.resident_id).where(
                Alert.resident_id.in_(ids),
                Alert.opened_at >= since,
                Alert.opened_at < end,
                or_(Alert.escalation_round > 0, Alert.escalation_step > 0),
            )
        ).scalars()
    )
    reports: dict[str, list[str]] = defaultdict(list)
    for resident_id, source in session.execute(
        select(RiskReport.resident_id, RiskReport.source).where(
            RiskReport.resident_id.in_(ids),
            RiskReport.reported_at >= since,
            RiskReport.reported_at < end,
        )
    ).all():
        reports[resident_id].append(source)
    activity = activity or {}
    facts = {}
    for r in residents:
        c = counts[r.id]
        seen = activity.get(r.id)
        conditions = [c.strip().lower() for c in (r.conditions or []) if c.strip()]
        facts[r.id] = Facts(
            falls_30d=c["falls_30d"],
            near_falls_30d=c["near_falls_30d"],
            activity_ratio_7d=seen.ratio_7d if seen else None,
            night_activity_share_7d=seen.night_share_7d if seen else None,
            not_worn_7d=c["not_worn_7d"],
            battery_flat_30d=c["battery_flat_30d"],
            missed_doses_7d=c["missed_doses_7d"],
            no_water_mornings_7d=c["no_water_mornings_7d"],
            water_running_7d=c["water_running_7d"],
            sos_30d=c["sos_30d"],
            unanswered_30d=unanswered[r.id],
            lives_alone=r.lives_alone,
            age=day.year - r.birth_year if r.birth_year else None,
            dementia=any(any(word in c for word in DEMENTIA) for c in conditions)
            if r.conditions is not None
            else None,
            conditions=len(conditions) if r.conditions is not None else None,
            reports_30d=len(reports[r.id]),
            report_sources=tuple(sorted(set(reports[r.id]))),
        )
    return facts


def open_spans(session: Session, day: date) -> dict[str, dict[str, RiskTagRow]]:
    """Every span still open before ``day`` (or closed on it, by an earlier run of the
    day), by resident and tag: one query for the whole district."""
    today = day.isoformat()
    spans: dict[str, dict[str, RiskTagRow]] = defaultdict(dict)
    for row in session.execute(
        select(RiskTagRow).where(or_(RiskTagRow.until.is_(None), RiskTagRow.until == today))
    ).scalars():
        spans[row.resident_id][row.tag] = row
    return spans


def store(
    session: Session,
    resident_id: str,
    day: date,
    hits: list[TagHit],
    current: dict[str, RiskTagRow],
) -> tuple[int, int]:
    """Keep the day's tags for one resident (``current``: their open spans); return
    (started, ended)."""
    today = day.isoformat()
    holding = {h.tag: h for h in hits}
    started = ended = 0
    for tag, row in current.items():
        if tag in holding:
            hit = holding[tag]
            row.until = None  # still holding (or again, on a re-run of the day)
            row.value = float(hit.value) if hit.value is not None else None
            row.evidence = {"zh-CN": hit.evidence_zh, "en": hit.evidence_en}
            row.evaluated_on = today
        elif row.since == today:
            session.delete(row)  # began on a first run of today that a re-run undoes
        elif row.until is None:
            row.until = today
            ended += 1
    for tag, hit in holding.items():
        if tag not in current:
            session.add(
                RiskTagRow(
                    resident_id=resident_id,
                    tag=tag,
                    since=today,
                    until=None,
                    value=float(hit.value) if hit.value is not None else None,
                    evidence={"zh-CN": hit.evidence_zh, "en": hit.evidence_en},
                    evaluated_on=today,
                )
            )
            started += 1
    return started, ended


def previous_spans(current: dict[str, RiskTagRow], day: date) -> dict[str, date]:
    """The tags holding before ``day`` and since when (for the evaluator's since-dates)."""
    today = day.isoformat()
    return {tag: date.fromisoformat(row.since) for tag, row in current.items() if row.since < today}


def evaluate_day(
    session: Session,
    day: date,
    *,
    table: tuple[Tag, ...] | None = None,
    activity: Mapping[str, Activity] | None = None,
) -> DayResult:
    table = table or risk_tags.load()
    residents = list(session.execute(select(Resident).order_by(Resident.id)).scalars())
    facts = gather(session, day, residents, activity)
    spans = open_spans(session, day)
    total = started = ended = 0
    for resident in residents:
        current = spans.get(resident.id, {})
        hits = risk_tags.evaluate(table, facts[resident.id], day, previous_spans(current, day))
        s, e = store(session, resident.id, day, hits, current)
        total += len(hits)
        started += s
        ended += e
    return DayResult(day, len(residents), total, started, ended)
