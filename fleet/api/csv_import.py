"""The API side of the registry's bulk CSV imports (residents, caregivers, meters):
the file as the request body, a dry run by default, and one report shape.

Each import checks every row and reports every problem with its spreadsheet row and
column. With ``dry_run=false`` and no errors, all rows are written in one transaction;
with any error, none (HTTP 422 with the report).
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from fleet.auth import Caller
from fleet.db.session import utcnow
from fleet.errors import TooLarge
from fleet.redaction import redact
from fleet.registry import audit, csv_table
from fleet.registry.csv_table import Report


class RowErrorOut(BaseModel):
    row: int = Field(description="spreadsheet row; the header is row 1")
    column: str = Field(description="the column the problem is in ('' for the whole row)")
    id: str = Field(description="the row's id, if it could be read")
    message: str


class CsvReportOut(BaseModel):
    dry_run: bool
    rows: int
    valid_rows: int
    error_rows: int
    errors: list[RowErrorOut]
    applied: bool
    created: int


def csv_body(columns: str) -> dict[str, Any]:
    """The OpenAPI request body of an import route."""
    return {
        "requestBody": {
            "required": True,
            "description": f"the CSV file itself (header: {columns})",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }


RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": CsvReportOut, "description": "errors found; nothing applied"}
}


@dataclass(frozen=True, slots=True)
class Importer:
    """One kind of import: read and check the file against the registry, then write it
    (``apply(session, report, now)`` returns the rows written and the gateways bumped)."""

    check: Callable[[Session, Caller, bytes], Report[Any]]
    apply: Callable[[Session, Report[Any], datetime], tuple[int, set[str]]]
    action: str


async def read_body(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > csv_table.MAX_BYTES:
            raise TooLarge(f"the file is larger than {csv_table.MAX_BYTES // (1024 * 1024)} MB")
    return bytes(data)


def _run(
    sessions: sessionmaker[Session],
    caller: Caller,
    importer: Importer,
    data: bytes,
    dry_run: bool,
) -> tuple[CsvReportOut, set[str]]:
    with sessions() as session:
        report = importer.check(session, caller, data)
        created, bumped = 0, set[str]()
        applied = not dry_run and not report.errors
        if applied:
            created, bumped = importer.apply(
                session, report, utcnow()
            )  # one transaction: all or none
            audit.record(session, caller, importer.action, f"{created} rows", rows=report.rows)
            session.commit()
    out = CsvReportOut(
        dry_run=dry_run,
        rows=report.rows,
        valid_rows=report.rows - report.bad_rows,
        error_rows=report.bad_rows,
        # A key or URL pasted into any column must not come back in the report.
        errors=[
            RowErrorOut(row=e.row, column=e.column, id=redact(e.id), message=redact(e.message))
            for e in report.errors
        ],
        applied=applied,
        created=created,
    )
    return out, bumped


async def run_import(
    request: Request,
    *,
    caller: Caller,
    sessions: sessionmaker[Session],
    importer: Importer,
    dry_run: bool,
    poke: Callable[[], None],
) -> Any:
    data = await read_body(request)
    out, bumped = await asyncio.to_thread(_run, sessions, caller, importer, data, dry_run)
    if bumped:
        poke()
    if not dry_run and out.errors:
        return JSONResponse(out.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return out
