"""Bulk wristband registration from a CSV file: check every row, report every problem,
and write all rows or none.

The file has a header row; columns (English or Chinese names, any order):

    mac            MAC地址   AA:BB:CC:DD:EE:FF (or with '-')        required
    bind_key       密钥      32 hexadecimal characters              required
    community_id   社区      the community the band is kept in/used  required
    resident_id    居民      who wears it (empty: kept in stock)      optional
    firmware       固件      the band's firmware version             optional

Spreadsheet programs in China save CSV as GB18030/GBK unless told otherwise, and as
UTF-8 with a byte-order mark when told; both are read. Row numbers in the report are
the spreadsheet's (the header is row 1).
"""

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.ids import normalise_mac, parse_bind_key
from fleet.auth import Caller
from fleet.db.models import Community, Resident, Wristband
from fleet.errors import Invalid
from fleet.redaction import KEY_LIKE
from fleet.registry import config_push, scope
from fleet.registry.vault import Vault

MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024

_ALIASES = {
    "mac": "mac",
    "mac地址": "mac",
    "bind_key": "bind_key",
    "key": "bind_key",
    "密钥": "bind_key",
    "community_id": "community_id",
    "community": "community_id",
    "社区": "community_id",
    "resident_id": "resident_id",
    "resident": "resident_id",
    "居民": "resident_id",
    "firmware": "firmware",
    "固件": "firmware",
}
REQUIRED = ("mac", "bind_key", "community_id")


class ImportFileError(Invalid):
    """The file as a whole cannot be read (encoding, header, size)."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str
    mac: str = ""


@dataclass(slots=True)
class ImportRow:
    row: int
    mac: str
    key: bytes
    community_id: str
    resident_id: str | None
    firmware: str


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    valid: list[ImportRow] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("the file is neither UTF-8 nor GB18030 text; save it as CSV (UTF-8)")


def parse(data: bytes) -> ImportReport:
    """Check each row on its own and against the other rows of the file (pure)."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    text = _decode(data)
    if "\x00" in text:
        raise ImportFileError("the file contains NUL characters; it is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("the file is empty; the first row must name the columns") from None
    except csv.Error as exc:
        raise ImportFileError(f"row 1: {exc}") from None
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _ALIASES.get(name.strip().lower())
        if key is None:
            raise ImportFileError(
                f"unknown column {name.strip()!r} in row 1; expected: "
                "mac, bind_key, community_id, resident_id, firmware"
            )
        if key in columns:
            raise ImportFileError(f"column {key} appears twice in row 1")
        columns[key] = index
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ImportFileError(f"row 1 lacks the column(s): {', '.join(missing)}")

    report = ImportReport()
    first_row_of_mac: dict[str, int] = {}
    first_row_of_key: dict[bytes, int] = {}
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines at the end of a spreadsheet export
            report.rows += 1
            if report.rows > MAX_ROWS:
                raise ImportFileError(f"more than {MAX_ROWS} rows; split the file")
            row = _check_row(number, cells, columns, report.errors)
            if row is None:
                continue
            bad = False
            if row.mac in first_row_of_mac:
                report.errors.append(
                    RowError(number, "mac", f"same MAC as row {first_row_of_mac[row.mac]}", row.mac)
                )
                bad = True
            else:
                first_row_of_mac[row.mac] = number
            if row.key in first_row_of_key:
                report.errors.append(
                    RowError(
                        number,
                        "bind_key",
                        f"same key as row {first_row_of_key[row.key]}: each band has its own key",
                        row.mac,
                    )
                )
                bad = True
            else:
                first_row_of_key[row.key] = number
            if not bad:
                report.valid.append(row)
    except csv.Error as exc:
        raise ImportFileError(f"row {reader.line_num}: {exc}") from None
    if report.rows == 0:
        raise ImportFileError("the file has a header but no rows")
    return report


def _check_row(
    number: int, cells: list[str], columns: dict[str, int], errors: list[RowError]
) -> ImportRow | None:
    def cell(name: str) -> str:
        index = columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    raw_mac = cell("mac")
    ok = True
    try:
        mac = normalise_mac(raw_mac)
    except ValueError as exc:
        # Echo what was there, unless it looks like a key (a key pasted into the MAC
        # column): the report goes to a browser, and the key must not.
        shown = "" if KEY_LIKE.search(raw_mac) else raw_mac[:17]
        what = repr(shown) if shown else "the value (withheld: it looks like a key)"
        errors.append(RowError(number, "mac", f"{what}: {exc}", shown))
        mac, ok = shown, False
    try:
        key = parse_bind_key(cell("bind_key"))
    except ValueError as exc:
        errors.append(RowError(number, "bind_key", str(exc), mac))
        key, ok = b"", False
    community_id = cell("community_id")
    if not community_id:
        errors.append(RowError(number, "community_id", "the community is missing", mac))
        ok = False
    firmware = cell("firmware")
    if len(firmware) > 40:
        errors.append(RowError(number, "firmware", "longer than 40 characters", mac))
        ok = False
    if len(cells) > len(columns):
        errors.append(
            RowError(number, "", f"{len(cells)} cells but the header has {len(columns)}", mac)
        )
        ok = False
    if not ok:
        return None
    return ImportRow(number, mac, key, community_id, cell("resident_id") or None, firmware)


def check_registry(session: Session, caller: Caller, report: ImportReport) -> None:
    """Check the rows that passed ``parse`` against the registry and the caller's scope."""
    rows = report.valid
    macs = [r.mac for r in rows]
    registered: set[str] = set()
    for chunk in _chunks(macs):
        registered |= set(
            session.execute(select(Wristband.mac).where(Wristband.mac.in_(chunk))).scalars()
        )
    communities = {
        c.id: c
        for chunk in _chunks(sorted({r.community_id for r in rows}))
        for c in session.execute(select(Community).where(Community.id.in_(chunk))).scalars()
    }
    wanted_residents = sorted({r.resident_id for r in rows if r.resident_id})
    residents: dict[str, Resident] = {}
    for chunk in _chunks(wanted_residents):
        for resident in session.execute(
            select(Resident).where(Resident.id.in_(chunk), scope.residents(caller))
        ).scalars():
            residents[resident.id] = resident
    wearing: dict[str, str] = {}
    for chunk in _chunks(wanted_residents):
        for resident_id, mac in session.execute(
            select(Wristband.resident_id, Wristband.mac).where(
                Wristband.resident_id.in_(chunk), Wristband.state == "active"
            )
        ).all():
            if resident_id is not None:
                wearing[resident_id] = mac
    per_resident = Counter(r.resident_id for r in rows if r.resident_id)

    still_valid: list[ImportRow] = []
    for row in rows:
        problems: list[RowError] = []
        if row.mac in registered:
            problems.append(RowError(row.row, "mac", "this band is registered already", row.mac))
        community = communities.get(row.community_id)
        if community is None or not scope.may_use_community(caller, community):
            problems.append(
                RowError(
                    row.row,
                    "community_id",
                    f"community {row.community_id!r} does not exist or is outside your town",
                    row.mac,
                )
            )
        if row.resident_id:
            wearer = residents.get(row.resident_id)
            if wearer is None:
                problems.append(
                    RowError(
                        row.row,
                        "resident_id",
                        f"resident {row.resident_id!r} does not exist or is outside your town",
                        row.mac,
                    )
                )
            else:
                if wearer.community_id != row.community_id:
                    problems.append(
                        RowError(
                            row.row,
                            "community_id",
                            f"resident {wearer.id} lives in community "
                            f"{wearer.community_id}, not {row.community_id}",
                            row.mac,
                        )
                    )
                if wearer.id in wearing:
                    problems.append(
                        RowError(
                            row.row,
                            "resident_id",
                            f"resident {wearer.id} already wears band {wearing[wearer.id]}",
                            row.mac,
                        )
                    )
                if per_resident[wearer.id] > 1:
                    problems.append(
                        RowError(
                            row.row,
                            "resident_id",
                            f"resident {wearer.id} is given {per_resident[wearer.id]} "
                            "bands in this file",
                            row.mac,
                        )
                    )
        if problems:
            report.errors.extend(problems)
        else:
            still_valid.append(row)
    report.valid = still_valid
    report.errors.sort(key=lambda e: (e.row, e.column))


def apply(
    session: Session, report: ImportReport, vault: Vault, now: datetime
) -> tuple[int, set[str]]:
    """Write every row (the caller checked there are no errors); return (count, bumped)."""
    if report.errors:
        raise ValueError("an import with errors is not applied")
    for row in report.valid:
        session.add(
            Wristband(
                mac=row.mac,
                bind_key=vault.seal(row.key),
                resident_id=row.resident_id,
                community_id=row.community_id,
                firmware=row.firmware,
                state="active",
                created_at=now,
            )
        )
    session.flush()
    assigned = {row.community_id for row in report.valid if row.resident_id}
    return len(report.valid), config_push.bump_communities(session, assigned)


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    # Keep IN lists well below SQLite's and PostgreSQL's bound-parameter limits.
    return [items[i : i + size] for i in range(0, len(items), size)]
