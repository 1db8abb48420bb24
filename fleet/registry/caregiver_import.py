"""Bulk caregiver registration from a CSV file, with the residents each one cares for:
every row checked, every problem reported by row and column, all rows written or none.

Columns (English or Chinese names, any order):

    id            照护人编号  opaque id, e.g. cg-000045                       required
    display_name  姓名                                                      required
    kind          类型        family | grid_worker (家属 / 网格员); default family
    locale        语言        zh-CN | en; default zh-CN
    phone         电话        for the gateway's own SMS when its uplink is down
    channels      通知渠道    apprise URLs separated by spaces (secrets: never returned)
    town_id       街道        default: the staff member's town
    residents     居民        resident ids this person is called for: r-1;r-2

A resident linked here is called after the caregivers they already have (in the order
of the file). Channels go through the fleet's channel policy like a single
registration's.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet.auth import Caller, Role
from fleet.db.models import Caregiver, CareLink, Resident, Town
from fleet.notify.channel_policy import ChannelPolicy, ChannelRefused
from fleet.notify.sender import ChannelError, validate_channel
from fleet.registry import config_push, scope
from fleet.registry.csv_table import Column, Report, Row, chunks, first_rows, read, split_list
from fleet.registry.resident_import import ID_RE, text_ok

COLUMNS = (
    Column("id", ("照护人编号", "caregiver_id"), required=True),
    Column("display_name", ("姓名", "name"), required=True),
    Column("kind", ("类型",)),
    Column("locale", ("语言",)),
    Column("phone", ("电话",)),
    Column("channels", ("通知渠道",)),
    Column("town_id", ("街道", "town")),
    Column("residents", ("居民",)),
)
_KINDS = {"": "family", "family": "family", "家属": "family", "grid_worker": "grid_worker"}
_KINDS["网格员"] = "grid_worker"
_LOCALES = {"": "zh-CN", "zh-cn": "zh-CN", "zh": "zh-CN", "中文": "zh-CN", "en": "en"}


@dataclass(slots=True)
class CaregiverRow:
    row: int
    id: str
    display_name: str
    kind: str
    locale: str
    phone: str | None
    channels: list[str]
    town_id: str | None
    residents: list[str] = field(default_factory=list)


def _check_row(row: Row, caller: Caller, report: Report[CaregiverRow]) -> CaregiverRow | None:
    errors = len(report.errors)
    n = row.number
    caregiver_id = row.get("id")
    if "__extra__" in row.cells:
        report.fail(n, "", row.cells["__extra__"])
    if not ID_RE.match(caregiver_id):
        report.fail(n, "id", f"{caregiver_id[:40]!r} is not an opaque id like cg-000045")
    name = row.get("display_name")
    problem = "the name is missing" if not name else text_ok(name, 120)
    if problem:
        report.fail(n, "display_name", problem, caregiver_id)
    kind = _KINDS.get(row.get("kind").lower())
    if kind is None:
        report.fail(n, "kind", "write family or grid_worker (家属/网格员)", caregiver_id)
    locale = _LOCALES.get(row.get("locale").lower())
    if locale is None:
        report.fail(n, "locale", "write zh-CN or en", caregiver_id)
    phone = row.get("phone").replace(" ", "").replace("-", "")
    if phone and not (phone.lstrip("+").isdigit() and 5 <= len(phone.lstrip("+")) <= 20):
        # The number itself is not echoed: it is personal data.
        report.fail(n, "phone", "not a phone number (+8613800138000 or digits)", caregiver_id)
    channels = row.get("channels").split()
    if len(channels) > 10:
        report.fail(n, "channels", "at most 10 channels", caregiver_id)
    for i, url in enumerate(channels, start=1):
        # The URL is a secret: the message says what is wrong, never what it is.
        try:
            if len(url) > 2000:
                raise ChannelError("longer than 2000 characters")
            validate_channel(url)
        except ChannelError as exc:
            report.fail(n, "channels", f"channel {i}: {exc}", caregiver_id)
    town_id = row.get("town_id") or caller.town_id
    if caller.role is Role.STAFF and town_id != caller.town_id:
        report.fail(n, "town_id", "staff register caregivers in their own town only", caregiver_id)
    residents = list(dict.fromkeys(split_list(row.get("residents"))))
    for resident_id in residents:
        if not ID_RE.match(resident_id):
            report.fail(n, "residents", f"{resident_id[:40]!r} is not a resident id", caregiver_id)
    if len(report.errors) > errors or kind is None or locale is None:
        return None
    return CaregiverRow(
        n, caregiver_id, name, kind, locale, phone or None, channels, town_id, residents
    )


def parse(data: bytes, caller: Caller) -> Report[CaregiverRow]:
    """Check each row on its own and against the other rows of the file (no database)."""
    rows = read(data, COLUMNS)
    report: Report[CaregiverRow] = Report(rows=len(rows))
    first = first_rows(rows, lambda r: r.get("id"))
    for row in rows:
        caregiver = _check_row(row, caller, report)
        if caregiver is None:
            continue
        if first[caregiver.id] != row.number:
            report.fail(row.number, "id", f"same id as row {first[caregiver.id]}", caregiver.id)
            continue
        report.valid.append(caregiver)
    report.sort()
    return report


def check_registry(
    session: Session, caller: Caller, report: Report[CaregiverRow], policy: ChannelPolicy
) -> None:
    """Check the rows that passed ``parse`` against the registry, the caller's scope and
    the channel policy (which may look names up: call it off the event loop)."""
    rows = report.valid
    existing: set[str] = set()
    for chunk in chunks([r.id for r in rows]):
        existing |= set(
            session.execute(select(Caregiver.id).where(Caregiver.id.in_(chunk))).scalars()
        )
    towns = set(session.execute(select(Town.id)).scalars())
    wanted = sorted({r for row in rows for r in row.residents})
    visible: set[str] = set()
    for chunk in chunks(wanted):
        visible |= set(
            session.execute(
                select(Resident.id).where(Resident.id.in_(chunk), scope.residents(caller))
            ).scalars()
        )
    still_valid: list[CaregiverRow] = []
    for row in rows:
        bad = len(report.errors)
        if row.id in existing:
            report.fail(row.row, "id", f"caregiver {row.id} is registered already", row.id)
        if row.town_id is not None and row.town_id not in towns:
            report.fail(row.row, "town_id", f"town {row.town_id} does not exist", row.id)
        try:
            policy.check_all(row.channels)
        except ChannelRefused as exc:
            report.fail(row.row, "channels", str(exc), row.id)
        for resident_id in row.residents:
            if resident_id not in visible:
                report.fail(
                    row.row,
                    "residents",
                    f"resident {resident_id} does not exist or is outside your town",
                    row.id,
                )
        if len(report.errors) == bad:
            still_valid.append(row)
    report.valid = still_valid
    report.sort()


def apply(session: Session, report: Report[CaregiverRow], now: datetime) -> tuple[int, set[str]]:
    """Write every row (the caller checked there are no errors); return (count, bumped)."""
    if report.errors:
        raise ValueError("an import with errors is not applied")
    for row in report.valid:
        session.add(
            Caregiver(
                id=row.id,
                display_name=row.display_name,
                kind=row.kind,
                locale=row.locale,
                channels="\n".join(row.channels),
                phone=row.phone,
                town_id=row.town_id,
                created_at=now,
            )
        )
    session.flush()
    linked = sorted({r for row in report.valid for r in row.residents})
    last: dict[str, int] = {}
    for chunk in chunks(linked):
        for resident_id, top in session.execute(
            select(CareLink.resident_id, func.max(CareLink.priority))
            .where(CareLink.resident_id.in_(chunk))
            .group_by(CareLink.resident_id)
        ).all():
            last[resident_id] = int(top or 0)
    for row in report.valid:
        for resident_id in row.residents:
            last[resident_id] = last.get(resident_id, 0) + 1
            session.add(
                CareLink(resident_id=resident_id, caregiver_id=row.id, priority=last[resident_id])
            )
    session.flush()
    communities: set[str | None] = set()
    for chunk in chunks(linked):
        communities |= set(
            session.execute(select(Resident.community_id).where(Resident.id.in_(chunk))).scalars()
        )
    return len(report.valid), config_push.bump_communities(session, communities)


def check(
    session: Session, caller: Caller, data: bytes, policy: ChannelPolicy
) -> Report[CaregiverRow]:
    """Read the file and check it against the registry (the whole of a dry run)."""
    report = parse(data, caller)
    check_registry(session, caller, report, policy)
    return report
