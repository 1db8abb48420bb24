"""Reading a registry CSV file as a health center saves it from a spreadsheet.

Shared by the bulk imports of residents, caregivers and meters (the wristband import,
fleet/registry/band_import.py, predates it and keeps its own reader). A file is read
whole before anything is written: the header names the columns (English or Chinese,
any order), every row is checked, and every problem is reported with the spreadsheet's
row number (the header is row 1) and the column it is in. Spreadsheet programs in China
save CSV as GB18030 unless told otherwise, or as UTF-8 with a byte-order mark; both
are read.
"""

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fleet.errors import Invalid

MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024

T = TypeVar("T")


class ImportFileError(Invalid):
    """The file as a whole cannot be read (encoding, header, size)."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str
    id: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its spreadsheet number and its cells by column name (stripped)."""

    number: int
    cells: dict[str, str]

    def get(self, name: str) -> str:
        return self.cells.get(name, "")


@dataclass(slots=True)
class Report(Generic[T]):
    """What an import found: the rows read, every error, and the rows fit to write."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    valid: list[T] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})

    def fail(self, row: int, column: str, message: str, id_: str = "") -> None:
        self.errors.append(RowError(row, column, message, id_))

    def sort(self) -> None:
        self.errors.sort(key=lambda e: (e.row, e.column))


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("the file is neither UTF-8 nor GB18030 text; save it as CSV (UTF-8)")


def read(data: bytes, columns: Sequence[Column], *, max_rows: int = MAX_ROWS) -> list[Row]:
    """The data rows of a CSV file with these columns; a file that cannot be read as a
    whole raises :class:`ImportFileError` (a bad cell is left to the caller's checks)."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    text = _decode(data)
    if "\x00" in text:
        raise ImportFileError("the file contains NUL characters; it is not a CSV text file")
    by_alias = {
        alias.lower(): column.name for column in columns for alias in (column.name, *column.aliases)
    }
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("the file is empty; the first row must name the columns") from None
    except csv.Error as exc:
        raise ImportFileError(f"row 1: {exc}") from None
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        name = by_alias.get(title.strip().lower())
        if name is None:
            raise ImportFileError(
                f"row 1: unknown column {title.strip()!r}; expected: "
                + ", ".join(c.name for c in columns)
            )
        if name in positions:
            raise ImportFileError(f"row 1: column {name} appears twice")
        positions[name] = index
    missing = [c.name for c in columns if c.required and c.name not in positions]
    if missing:
        raise ImportFileError(f"row 1 lacks the column(s): {', '.join(missing)}")
    rows: list[Row] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines at the end of a spreadsheet export
            if len(rows) >= max_rows:
                raise ImportFileError(f"more than {max_rows} rows; split the file")
            values = {
                name: cells[index].strip() if index < len(cells) else ""
                for name, index in positions.items()
            }
            if len(cells) > len(header):
                values["__extra__"] = f"{len(cells)} cells but the header has {len(header)}"
            rows.append(Row(number, values))
    except csv.Error as exc:
        raise ImportFileError(f"row {reader.line_num}: {exc}") from None
    if not rows:
        raise ImportFileError("the file has a header but no rows")
    return rows


def split_list(text: str) -> list[str]:
    """A cell holding several values: ``a;b`` (also ``,`` ``；`` or ``、``), in order."""
    for sep in ("；", "、", ","):
        text = text.replace(sep, ";")
    return [part.strip() for part in text.split(";") if part.strip()]


def first_rows(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, int]:
    """Value -> the first row it appears in (for "same id as row N" errors)."""
    seen: dict[str, int] = {}
    for row in rows:
        value = key(row)
        if value and value not in seen:
            seen[value] = row.number
    return seen


def chunks(items: Sequence[str], size: int = 500) -> list[list[str]]:
    """Keep IN lists well below SQLite's and PostgreSQL's bound-parameter limits."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
