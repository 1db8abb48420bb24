"""Reports from outside (a grid worker's round, the hotline, the community office): rows
naming a resident, when, and the concern, under the name of their source.

All or nothing: every row is checked first — a resident the caller cannot see is
"unknown" (another town's looks exactly like a missing one), a time that is not a date
or lies in the future, an empty concern — and with any error nothing is imported and
every bad row is reported by number. CSV: UTF-8 (a BOM is fine) or GB18030, header
``resident_id,reported_at,concern``.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet import clock
from fleet.auth import Caller
from fleet.db.models import Resident, RiskReport
from fleet.errors import Invalid
from fleet.registry import scope

MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024
COLUMNS = ("resident_id", "reported_at", "concern")


class ReportFileError(Invalid):
    """A file that cannot be read as reports at all."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1 is the first data row (CSV: the line after the header is row 2)
    message: str


@dataclass(frozen=True, slots=True)
class ReportRow:
    resident_id: str
    reported_at: str
    concern: str


@dataclass(slots=True)
class ImportResult:
    source: str
    rows: int
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)


def parse_csv(data: bytes) -> list[ReportRow]:
    if len(data) > MAX_BYTES:
        raise ReportFileError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ReportFileError("the file is neither UTF-8 nor GB18030 text") from None
    if "\x00" in text:
        raise ReportFileError("the file contains NUL characters; it is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [c.strip().lower() for c in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ReportFileError(f"row 1 lacks the column(s): {', '.join(missing)}")
        at = {name: header.index(name) for name in COLUMNS}
        rows: list[ReportRow] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise ReportFileError(f"more than {MAX_ROWS} rows; split the file")

            def cell(name: str, cells: list[str] = cells) -> str:
                i = at[name]
                return cells[i].strip() if i < len(cells) else ""

            rows.append(ReportRow(cell("resident_id"), cell("reported_at"), cell("concern")))
    except csv.Error as exc:  # e.g. a quote left open: say where, refuse the file
        raise ReportFileError(f"row {reader.line_num}: {exc}") from None
    if not rows:
        raise ReportFileError("the file has a header but no rows")
    return rows


def _when(text: str) -> datetime:
    """A date (taken as local noon) or a date and time (local unless it has a zone)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(12), clock.zone())
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"reported_at {text!r} is not a date (YYYY-MM-DD) or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=clock.zone())


def import_reports(
    session: Session,
    caller: Caller,
    source: str,
    rows: list[ReportRow],
    now: datetime,
    *,
    dry_run: bool = False,
) -> ImportResult:
    result = ImportResult(source=source, rows=len(rows))
    wanted = {r.resident_id for r in rows}
    known = set(
        session.execute(
            select(Resident.id).where(Resident.id.in_(wanted), scope.residents(caller))
        ).scalars()
    )
    checked: list[tuple[ReportRow, datetime]] = []
    for number, row in enumerate(rows, start=1):
        if row.resident_id not in known:
            result.errors.append(RowError(number, f"unknown resident {row.resident_id!r}"))
        if not row.concern or len(row.concern) > 2000:
            result.errors.append(RowError(number, "concern must be 1 to 2000 characters"))
        try:
            when = _when(row.reported_at)
        except ValueError as exc:
            result.errors.append(RowError(number, str(exc)))
            continue
        # A bare date is a day: today's is fine at any hour of it.
        latest = (
            _when(now.astimezone(clock.zone()).date().isoformat())
            if len(row.reported_at) == 10
            else now
        )
        if when > latest:
            result.errors.append(RowError(number, "reported_at lies in the future"))
        checked.append((row, when))
    if result.errors or dry_run:
        return result
    for row, when in checked:
        session.add(
            RiskReport(
                resident_id=row.resident_id,
                source=source,
                reported_at=when,
                concern=row.concern,
                imported_at=now,
                imported_by=caller.actor[:80],
            )
        )
    result.imported = len(checked)
    return result
