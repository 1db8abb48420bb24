"""Bulk resident registration from a CSV file, care plans included: every row checked,
every problem reported by row and column, and all rows written or none.

Columns (English or Chinese names, any order; docs/registry.md has an example):

    id              居民编号   opaque resident id, e.g. r-000123              required
    display_name    姓名                                                     required
    community_id    社区                                                     required
    address         地址
    grid_id         网格       a grid of the same community
    lives_alone     独居       yes/no (是/否, 1/0); default yes
    flat            房屋       opaque flat id, links the flat's meters to the resident
    health_notes    健康备注
    active_hours    活动时段   07:00-22:00
    inactivity_s    静止秒数   seconds without movement in active hours (900-86400)
    doses           服药时间   am=08:00;pm=20:00
    dose_labels     药品       am=降压药;pm=二甲双胍 (stays in the registry)
    fall_sensitivity 跌倒灵敏度 low | standard | high
    caregivers      照护人     caregiver ids in call order: cg-1;cg-2

The care plan is validated with the contract's own CarePlan, the type the gateway
applies, so a plan the import accepts is a plan a gateway can run.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.careplan import CarePlan
from fleet.auth import Caller
from fleet.db.models import Caregiver, CareLink, Community, Grid, Resident
from fleet.errors import Invalid
from fleet.registry import careplans, config_push, scope
from fleet.registry.csv_table import Column, Report, Row, chunks, first_rows, read, split_list

ID_RE = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

COLUMNS = (
    Column("id", ("居民编号", "resident_id"), required=True),
    Column("display_name", ("姓名", "name"), required=True),
    Column("community_id", ("社区", "community"), required=True),
    Column("address", ("地址",)),
    Column("grid_id", ("网格", "grid")),
    Column("lives_alone", ("独居",)),
    Column("flat", ("房屋",)),
    Column("health_notes", ("健康备注",)),
    Column("active_hours", ("活动时段",)),
    Column("inactivity_s", ("静止秒数",)),
    Column("doses", ("服药时间",)),
    Column("dose_labels", ("药品",)),
    Column("fall_sensitivity", ("跌倒灵敏度",)),
    Column("caregivers", ("照护人",)),
)

_YES = {"", "yes", "y", "true", "1", "是"}
_NO = {"no", "n", "false", "0", "否"}
# Where a CarePlan validation error points, as a column of the file.
_PLAN_COLUMN = {"active_hours": "active_hours", "inactivity_s": "inactivity_s"}


@dataclass(slots=True)
class ResidentRow:
    row: int
    id: str
    display_name: str
    community_id: str
    address: str
    grid_id: str | None
    lives_alone: bool
    flat: str | None
    health_notes: str
    plan: CarePlan
    labels: dict[str, str]
    caregivers: list[str] = field(default_factory=list)


def text_ok(value: str, limit: int, *, lines: bool = False) -> str | None:
    """Why a text cell is refused, or None."""
    if len(value) > limit:
        return f"longer than {limit} characters"
    bad = _CONTROL.search(value.replace("\n", "").replace("\r", "") if lines else value)
    return "control characters are not allowed" if bad else None


def _pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in split_list(text):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{part!r}: write id=value, e.g. am=08:00")
        if key.strip() in pairs:
            raise ValueError(f"{key.strip()} appears twice")
        pairs[key.strip()] = value.strip()
    return pairs


def _plan(row: Row, report: Report[ResidentRow]) -> CarePlan | None:
    raw: dict[str, Any] = {}
    if row.get("active_hours"):
        raw["active_hours"] = row.get("active_hours")
    if row.get("inactivity_s"):
        try:
            raw["inactivity_s"] = int(row.get("inactivity_s"))
        except ValueError:
            report.fail(row.number, "inactivity_s", "not a whole number of seconds")
            return None
    if row.get("fall_sensitivity"):
        raw["fall_sensitivity"] = row.get("fall_sensitivity").lower()
    try:
        raw["medication"] = [{"id": k, "time": v} for k, v in _pairs(row.get("doses")).items()]
    except ValueError as exc:
        report.fail(row.number, "doses", str(exc))
        return None
    try:
        return CarePlan.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            top = str(error["loc"][0]) if error["loc"] else ""
            column = _PLAN_COLUMN.get(top, "doses" if top == "medication" else top)
            report.fail(row.number, column, str(error["msg"]).removeprefix("Value error, "))
        return None


def _check_row(row: Row, report: Report[ResidentRow]) -> ResidentRow | None:
    errors = len(report.errors)
    n = row.number
    if "__extra__" in row.cells:
        report.fail(n, "", row.cells["__extra__"])
    resident_id = row.get("id")
    for name in ("id", "community_id", "grid_id", "flat"):
        value = row.get(name)
        if (value or name in ("id", "community_id")) and not ID_RE.match(value):
            what = (
                "is missing" if not value else f"{value[:40]!r} is not an opaque id like r-000123"
            )
            report.fail(n, name, what, resident_id)
    name = row.get("display_name")
    if not name:
        report.fail(n, "display_name", "the name is missing", resident_id)
    for column, limit in (("display_name", 120), ("address", 300)):
        problem = text_ok(row.get(column), limit)
        if problem:
            report.fail(n, column, problem, resident_id)
    problem = text_ok(row.get("health_notes"), 4000, lines=True)
    if problem:
        report.fail(n, "health_notes", problem, resident_id)
    alone = row.get("lives_alone").lower()
    if alone not in _YES | _NO:
        report.fail(n, "lives_alone", f"{alone!r}: write yes or no (是/否)", resident_id)
    plan = _plan(row, report)
    labels: dict[str, str] = {}
    try:
        labels = _pairs(row.get("dose_labels"))
        if plan is not None:
            careplans.check_labels(plan, labels)
        for label in labels.values():
            problem = text_ok(label, 80)
            if problem:
                raise ValueError(f"a label is {problem}")
    except ValueError as exc:
        report.fail(n, "dose_labels", str(exc), resident_id)
    except Invalid as exc:
        report.fail(n, "dose_labels", exc.message.removeprefix("medication_labels: "), resident_id)
    caregivers = list(dict.fromkeys(split_list(row.get("caregivers"))))
    if len(caregivers) > 10:
        report.fail(n, "caregivers", "at most 10 caregivers per resident", resident_id)
    for caregiver_id in caregivers:
        if not ID_RE.match(caregiver_id):
            report.fail(n, "caregivers", f"{caregiver_id[:40]!r} is not a caregiver id")
    if len(report.errors) > errors or plan is None:
        return None
    return ResidentRow(
        row=n,
        id=resident_id,
        display_name=name,
        community_id=row.get("community_id"),
        address=row.get("address"),
        grid_id=row.get("grid_id") or None,
        lives_alone=alone in _YES,
        flat=row.get("flat") or None,
        health_notes=row.get("health_notes"),
        plan=plan,
        labels=labels,
        caregivers=caregivers,
    )


def parse(data: bytes) -> Report[ResidentRow]:
    """Check each row on its own and against the other rows of the file (pure)."""
    rows = read(data, COLUMNS)
    report: Report[ResidentRow] = Report(rows=len(rows))
    first = first_rows(rows, lambda r: r.get("id"))
    for row in rows:
        resident = _check_row(row, report)
        if resident is None:
            continue
        if first[resident.id] != row.number:
            report.fail(row.number, "id", f"same id as row {first[resident.id]}", resident.id)
            continue
        report.valid.append(resident)
    report.sort()
    return report


def check_registry(session: Session, caller: Caller, report: Report[ResidentRow]) -> None:
    """Check the rows that passed ``parse`` against the registry and the caller's scope."""
    rows = report.valid
    ids = [r.id for r in rows]
    existing: set[str] = set()
    for chunk in chunks(ids):
        existing |= set(
            session.execute(select(Resident.id).where(Resident.id.in_(chunk))).scalars()
        )
    communities = {
        c.id: c
        for chunk in chunks(sorted({r.community_id for r in rows}))
        for c in session.execute(select(Community).where(Community.id.in_(chunk))).scalars()
    }
    grids = {
        g.id: g.community_id
        for chunk in chunks(sorted({r.grid_id for r in rows if r.grid_id}))
        for g in session.execute(select(Grid).where(Grid.id.in_(chunk))).scalars()
    }
    contacts = {
        c.id: c
        for chunk in chunks(sorted({c for r in rows for c in r.caregivers}))
        for c in session.execute(select(Caregiver).where(Caregiver.id.in_(chunk))).scalars()
    }
    still_valid: list[ResidentRow] = []
    for row in rows:
        bad = len(report.errors)
        if row.id in existing:
            report.fail(row.row, "id", f"resident {row.id} is registered already", row.id)
        community = communities.get(row.community_id)
        if community is None or not scope.may_use_community(caller, community):
            report.fail(
                row.row,
                "community_id",
                f"community {row.community_id} does not exist or is outside your town",
                row.id,
            )
        if row.grid_id and grids.get(row.grid_id) != row.community_id:
            report.fail(
                row.row,
                "grid_id",
                f"grid {row.grid_id} is not a grid of community {row.community_id}",
                row.id,
            )
        for caregiver_id in row.caregivers:
            contact = contacts.get(caregiver_id)
            if contact is None or not scope.may_link_contact(caller, contact):
                report.fail(
                    row.row,
                    "caregivers",
                    f"caregiver {caregiver_id} does not exist or is outside your town",
                    row.id,
                )
        if len(report.errors) == bad:
            still_valid.append(row)
    report.valid = still_valid
    report.sort()


def apply(session: Session, report: Report[ResidentRow], now: datetime) -> tuple[int, set[str]]:
    """Write every row (the caller checked there are no errors); return (count, bumped)."""
    if report.errors:
        raise ValueError("an import with errors is not applied")
    for row in report.valid:
        session.add(
            Resident(
                id=row.id,
                display_name=row.display_name,
                address=row.address,
                community_id=row.community_id,
                grid_id=row.grid_id,
                lives_alone=row.lives_alone,
                health_notes=row.health_notes,
                flat=row.flat,
                settings=careplans.stored(row.plan),
                medication_labels=row.labels,
                created_at=now,
            )
        )
    session.flush()
    session.add_all(
        CareLink(resident_id=row.id, caregiver_id=caregiver_id, priority=priority)
        for row in report.valid
        for priority, caregiver_id in enumerate(row.caregivers, start=1)
    )
    session.flush()
    communities = {row.community_id for row in report.valid}
    return len(report.valid), config_push.bump_communities(session, communities)


def check(session: Session, caller: Caller, data: bytes) -> Report[ResidentRow]:
    """Read the file and check it against the registry (the whole of a dry run)."""
    report = parse(data)
    check_registry(session, caller, report)
    return report
