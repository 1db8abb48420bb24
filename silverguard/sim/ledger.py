"""The scenario ledger: what must follow each scripted incident, and the matching of
what the fleet did against it (pure: no servers, no clock).

An :class:`Expected` says: after this incident, at product time ``at``, exactly one
alert of ``alert_kind`` for ``subject`` (a resident, or a gateway), and each
:class:`Reach` — a person, or one of several — notified within its deadline; or, with
``alert_kind`` None, no alert of ``forbidden_kind`` for the subject at all (a cancelled
fall, a taken dose).

:func:`reconcile` judges each expectation against the alerts read back from the fleet's
API (with their deliveries) and the requests the caregivers' phones received:

- matched: exactly one alert, every Reach notified in time (the fleet's delivery is
  sent and the phone got a message on that contact's line);
- missed: no alert;
- duplicated: more than one alert (for a no-alert incident: any alert);
- wrong_recipient: one alert, but a required person was never notified;
- late: one alert, everyone notified, someone after the deadline.

Alerts no expectation claims are ``unexpected``; notifications that reached nobody are
deliveries of any alert that failed or are still pending at the end (one cancelled
because the alert was acknowledged first is no loss).
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

# An alert opened this long before the incident's scripted time is still its own (the
# band's clock and the script's run on one clock; this only absorbs rounding).
EARLY_S = 60.0


class Verdict(StrEnum):
    MATCHED = "matched"
    MISSED = "missed"
    DUPLICATED = "duplicated"
    WRONG_RECIPIENT = "wrong_recipient"
    LATE = "late"


@dataclass(frozen=True, slots=True)
class Reach:
    contacts: tuple[str, ...]  # any one of them
    within_s: float  # after the incident

    def label(self) -> str:
        return "|".join(self.contacts)


@dataclass(frozen=True, slots=True)
class Expected:
    ref: str  # e.g. "fall r-000012"
    kind: str  # the incident, as the table shows it
    subject: str  # resident id, or gateway id for coverage alerts
    at: float  # product time of the incident
    alert_kind: str | None  # None: no alert must follow
    reach: tuple[Reach, ...] = ()
    forbidden_kind: str | None = None  # with alert_kind None: the alert that must not come
    window_s: float = 3 * 3600.0  # alerts opened later belong to something else

    def __post_init__(self) -> None:
        # An alert may open as late as its last deadline (and an hour past it).
        latest = max((r.within_s for r in self.reach), default=0.0) + 3600.0
        if latest > self.window_s:
            object.__setattr__(self, "window_s", latest)


@dataclass(frozen=True, slots=True)
class Delivery:
    contact: str
    sent_at: float | None  # product time; None: never sent
    # pending | sent | failed | cancelled (the alert was acknowledged first: not a loss)
    status: str = "sent"


@dataclass(frozen=True, slots=True)
class AlertSeen:
    id: int
    kind: str
    subject: str  # resident id, or the device for alerts without a resident
    opened_at: float
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True, slots=True)
class Judged:
    expected: Expected
    verdict: Verdict
    alerts: tuple[int, ...]
    detail: str = ""


@dataclass(slots=True)
class LedgerResult:
    judged: list[Judged] = field(default_factory=list)
    unexpected: list[AlertSeen] = field(default_factory=list)
    unreached: int = 0  # deliveries never sent

    def count(self, verdict: Verdict) -> int:
        return sum(1 for j in self.judged if j.verdict is verdict)

    @property
    def failed(self) -> bool:
        return any(j.verdict is not Verdict.MATCHED for j in self.judged)

    def summary(self, resident_days: float) -> dict[str, float | int]:
        return {
            "incidents": len(self.judged),
            **{v.value: self.count(v) for v in Verdict},
            "unexpected_alerts": len(self.unexpected),
            "unexpected_per_resident_day": round(len(self.unexpected) / resident_days, 5)
            if resident_days
            else 0.0,
            "notifications_to_nobody": self.unreached,
            "resident_days": round(resident_days, 2),
        }


def _candidates(expected: Expected, kind: str, alerts: Iterable[AlertSeen]) -> list[AlertSeen]:
    return [
        a
        for a in alerts
        if a.kind == kind
        and a.subject == expected.subject
        and expected.at - EARLY_S <= a.opened_at <= expected.at + expected.window_s
    ]


def _reach(
    reach: Reach, alert: AlertSeen, at: float, phones: dict[str, list[float]]
) -> tuple[bool, float | None]:
    """(notified at all, the earliest time a required contact was notified)."""
    best: float | None = None
    for delivery in alert.deliveries:
        if delivery.contact not in reach.contacts or delivery.sent_at is None:
            continue
        # The phone must have had a message on that line too, once the alert opened.
        arrivals = [t for t in phones.get(delivery.contact, []) if t >= alert.opened_at - 1]
        if not arrivals:
            continue
        when = max(delivery.sent_at, min(arrivals))
        best = when if best is None else min(best, when)
    return best is not None, best


def judge(expected: Expected, alerts: list[AlertSeen], phones: dict[str, list[float]]) -> Judged:
    if expected.alert_kind is None:
        forbidden = _candidates(expected, expected.forbidden_kind or "", alerts)
        if forbidden:
            ids = tuple(a.id for a in forbidden)
            return Judged(expected, Verdict.DUPLICATED, ids, "an alert followed")
        return Judged(expected, Verdict.MATCHED, ())
    found = _candidates(expected, expected.alert_kind, alerts)
    ids = tuple(a.id for a in found)
    if not found:
        return Judged(expected, Verdict.MISSED, ())
    if len(found) > 1:
        return Judged(expected, Verdict.DUPLICATED, ids)
    late: list[str] = []
    for reach in expected.reach:
        notified, when = _reach(reach, found[0], expected.at, phones)
        if not notified:
            return Judged(expected, Verdict.WRONG_RECIPIENT, ids, f"{reach.label()} not notified")
        assert when is not None
        if when - expected.at > reach.within_s:
            late.append(
                f"{reach.label()} after {when - expected.at:.0f} s > {reach.within_s:.0f} s"
            )
    if late:
        return Judged(expected, Verdict.LATE, ids, "; ".join(late))
    return Judged(expected, Verdict.MATCHED, ids)


def reconcile(
    expectations: list[Expected], alerts: list[AlertSeen], phones: dict[str, list[float]]
) -> LedgerResult:
    """Judge every expectation; ``phones``: contact -> product times messages arrived.

    Incidents that call for an alert are judged first and claim their alerts; an
    incident after which no alert may follow is then judged against the alerts nothing
    else explains (a scripted outage's alert does not count against a broker restart
    that overlaps it)."""
    result = LedgerResult()
    claimed: set[int] = set()
    ordered = sorted(expectations, key=lambda e: (e.alert_kind is None, e.at))
    for expected in ordered:
        pool = alerts if expected.alert_kind else [a for a in alerts if a.id not in claimed]
        judged = judge(expected, pool, phones)
        result.judged.append(judged)
        claimed.update(judged.alerts)
    result.judged.sort(key=lambda j: j.expected.at)
    result.unexpected = [a for a in alerts if a.id not in claimed]
    result.unreached = sum(
        1 for a in alerts for d in a.deliveries if d.status not in ("sent", "cancelled")
    )
    return result


def table(result: LedgerResult, zone_text: Callable[[float], str]) -> str:
    """The ledger as a plain table, one incident a line."""
    lines = [f"{'when':<17} {'incident':<16} {'subject':<16} {'verdict':<16} detail"]
    for j in sorted(result.judged, key=lambda j: j.expected.at):
        e = j.expected
        alerts = ",".join(str(i) for i in j.alerts)
        detail = f"alert {alerts} {j.detail}".strip() if alerts else j.detail
        lines.append(
            f"{zone_text(e.at):<17} {e.kind:<16} {e.subject:<16} {j.verdict.value:<16} {detail}"
        )
    if result.unexpected:
        # What nothing scripted: the rules' false alarms (or the simulation's own).
        kinds = Counter(a.kind for a in result.unexpected)
        lines.append(
            "unexpected alerts: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        )
    return "\n".join(lines)
