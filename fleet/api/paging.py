"""Lists that scale: one way for every list route to page, sort, count and export.

A list route takes ``ListQuery`` (``limit``, ``offset``, ``sort``, ``q``, ``format``),
names the columns it may be sorted by, and hands its filtered query to ``page_rows``
(rows from the database) or its filtered list to ``page_items`` (rows computed in
memory, such as battery figures). Either one puts the number of matching rows in the
``X-Total-Count`` header, so the console can say "51-100 of 867" and page on without
asking for everything. ``sort`` is a column name, ``-name`` for descending; an unknown
name is refused with the names that exist.

``format=csv`` answers with the same rows as a CSV file (``csv_response``): the rows of
the filtered, sorted list, every page of it up to ``CSV_MAX_ROWS``. A cell that a
spreadsheet would read as a formula (it starts with ``= + - @``, a tab or a carriage
return) is prefixed with an apostrophe, as OWASP's CSV-injection advice says, so an
address someone typed as ``=HYPERLINK(...)`` stays text on the staff member's PC.
"""

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Response
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from fleet.errors import Invalid

T = TypeVar("T")

TOTAL_HEADER = "X-Total-Count"
# Export is for a spreadsheet, not a backup: a town's alerts of a year fit.
CSV_MAX_ROWS = 100_000
# The characters a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

SortText = Annotated[
    str | None,
    Query(
        max_length=40,
        pattern=r"^-?[a-z_]+$",
        description="a column name, '-name' for descending",
    ),
]
SearchText = Annotated[
    str | None,
    Query(
        max_length=80,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="text search: names, ids, addresses, MACs (case-insensitive)",
    ),
]


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int | None
    offset: int
    sort: str | None
    q: str | None
    format: Literal["json", "csv"]

    @property
    def csv(self) -> bool:
        return self.format == "csv"

    @property
    def search(self) -> str | None:
        text = (self.q or "").strip()
        return text or None

    def like(self) -> str | None:
        """The search text as a LIKE pattern, its own wildcards taken literally."""
        text = self.search
        if text is None:
            return None
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{escaped}%"


def list_query(
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sort: SortText = None,
    q: SearchText = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> ListQuery:
    return ListQuery(limit=limit, offset=offset, sort=sort, q=q, format=format)


ListQueryDep = Annotated[ListQuery, Depends(list_query)]


def sort_key(sort: str | None, allowed: Sequence[str], default: str) -> tuple[str, bool]:
    """``(column, descending)`` from ``name`` / ``-name``; an unknown name is Invalid."""
    text = sort or default
    descending = text.startswith("-")
    name = text.removeprefix("-")
    if name not in allowed:
        raise Invalid(f"sort: {name!r} is not a column of this list; use one of {sorted(allowed)}")
    return name, descending


def contains(column: Any, pattern: str) -> ColumnElement[bool]:
    """Case-insensitive ``LIKE`` with backslash as the escape (SQLite and PostgreSQL)."""
    return func.lower(column).like(func.lower(pattern), escape="\\")


def page_rows(
    session: Session,
    query: Select[*tuple[Any, ...]],
    params: ListQuery,
    response: Response,
    *,
    sorts: Mapping[str, Sequence[Any]],
    default_sort: str,
    default_limit: int,
) -> Sequence[Any]:
    """Count, sort and cut a query; the count goes to ``X-Total-Count``. ``sorts`` maps
    a sort name to its columns; the last is a unique tie-break, so pages never overlap."""
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery()))
    response.headers[TOTAL_HEADER] = str(total.scalar_one())
    name, descending = sort_key(params.sort, list(sorts), default_sort)
    order = [c.desc() if descending else c.asc() for c in sorts[name]]
    limit = CSV_MAX_ROWS if params.csv else (params.limit or default_limit)
    offset = 0 if params.csv else params.offset
    rows = session.execute(query.order_by(*order).limit(limit).offset(offset))
    return rows.scalars().all() if len(rows.keys()) == 1 else rows.all()


def page_items(
    items: Iterable[T],
    params: ListQuery,
    response: Response,
    *,
    sorts: Mapping[str, Callable[[T], Any]],
    default_sort: str,
) -> list[T]:
    """The in-memory twin of ``page_rows``: for lists computed from time series. Sort
    keys are tuples whose ``None`` parts sort last whichever the direction."""
    name, descending = sort_key(params.sort, list(sorts), default_sort)
    key = sorts[name]
    ordered = sorted(items, key=lambda item: _nulls_last(key(item), descending), reverse=descending)
    response.headers[TOTAL_HEADER] = str(len(ordered))
    if params.csv:
        return ordered[:CSV_MAX_ROWS]
    end = None if params.limit is None else params.offset + params.limit
    return ordered[params.offset : end]


def _nulls_last(value: Any, descending: bool) -> Any:
    parts = value if isinstance(value, tuple) else (value,)
    # (missing?, value): with reverse=True a missing value must compare smallest.
    return tuple(((p is None) != descending, p if p is not None else 0) for p in parts)


def neutralise(value: Any) -> str:
    """A cell as text a spreadsheet shows and never evaluates."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download: UTF-8 with a byte-order mark, so Excel in China shows the names,
    and every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return Response(
        content="\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
