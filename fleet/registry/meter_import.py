"""Bulk meter registration from a CSV file: every row checked (the contract's own
MeterConfig, then the same placement rules as a single registration), every problem
reported by row and column, all rows written or none.

Columns (English or Chinese names, any order):

    id              表计编号  opaque meter id, e.g. m-0001-w                 required
    flat            房屋      the flat it serves (a resident there must be registered) required
    community_id    社区      the flat's community                         required
    gateway_id      网关      the gateway whose serial bus it is wired to   required
    protocol        协议      modbus | dlt645                              required
    address         地址      Modbus 1-247, or DL/T 645's 12 digits          required
    port            串口      e.g. /dev/ttyUSB0                            required
    profile         型号      modbus: sdm120 | water (see contract/meter_profiles.py)
    poll_interval_s 采集间隔秒 default 60
    baud            波特率
    parity          校验      N | E | O
    timeout_s, retries, offline_after_s   as in contract/meters.py
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.meters import MeterConfig
from fleet.auth import Caller
from fleet.db.models import Meter
from fleet.errors import FleetError
from fleet.registry import config_push, meters
from fleet.registry.csv_table import Column, Report, Row, chunks, first_rows, read

COLUMNS = (
    Column("id", ("表计编号", "meter_id"), required=True),
    Column("flat", ("房屋",), required=True),
    Column("community_id", ("社区", "community"), required=True),
    Column("gateway_id", ("网关", "gateway"), required=True),
    Column("protocol", ("协议",), required=True),
    Column("address", ("地址",), required=True),
    Column("port", ("串口",), required=True),
    Column("profile", ("型号",)),
    Column("poll_interval_s", ("采集间隔秒",)),
    Column("baud", ("波特率",)),
    Column("parity", ("校验",)),
    Column("timeout_s", ()),
    Column("retries", ()),
    Column("offline_after_s", ()),
)
_CONFIG_FIELDS = ("id", "flat", "port", "protocol", "address", "profile", "parity")
_NUMBERS = {"poll_interval_s": float, "baud": int, "timeout_s": float, "retries": int}
_NUMBERS["offline_after_s"] = float
_MESSAGE_COLUMNS = ("address", "profile", "registers", "flat", "id")


@dataclass(slots=True)
class MeterRow:
    row: int
    config: MeterConfig
    gateway_id: str
    community_id: str


def _column_of(error: Any) -> str:
    """The column a MeterConfig error is about (model-level errors name it in words)."""
    if error["loc"]:
        return str(error["loc"][0])
    message = str(error["msg"])
    for name in _MESSAGE_COLUMNS:
        if name in message.split(":", 1)[-1] or message.startswith(name):
            return name
    return ""


def _check_row(row: Row, report: Report[MeterRow]) -> MeterRow | None:
    n = row.number
    meter_id = row.get("id")
    if "__extra__" in row.cells:
        report.fail(n, "", row.cells["__extra__"], meter_id)
        return None
    raw: dict[str, Any] = {name: row.get(name) for name in _CONFIG_FIELDS if row.get(name)}
    bad = False
    for name, kind in _NUMBERS.items():
        if row.get(name):
            try:
                raw[name] = kind(row.get(name))
            except ValueError:
                report.fail(n, name, f"{row.get(name)[:20]!r} is not a number", meter_id)
                bad = True
    for name in ("gateway_id", "community_id"):
        if not row.get(name):
            report.fail(n, name, "missing", meter_id)
            bad = True
    try:
        config = MeterConfig.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            report.fail(n, _column_of(error), message, meter_id)
        return None
    if bad:
        return None
    return MeterRow(n, config, row.get("gateway_id"), row.get("community_id"))


def parse(data: bytes) -> Report[MeterRow]:
    rows = read(data, COLUMNS)
    report: Report[MeterRow] = Report(rows=len(rows))
    first = first_rows(rows, lambda r: r.get("id"))
    for row in rows:
        meter = _check_row(row, report)
        if meter is None:
            continue
        if first[meter.config.id] != row.number:
            report.fail(
                row.number, "id", f"same id as row {first[meter.config.id]}", meter.config.id
            )
            continue
        report.valid.append(meter)
    report.sort()
    return report


def check_registry(session: Session, caller: Caller, report: Report[MeterRow]) -> None:
    """Each row against the registry and against the rows above it (one bus per port)."""
    existing: set[str] = set()
    for chunk in chunks([r.config.id for r in report.valid]):
        existing |= set(session.execute(select(Meter.id).where(Meter.id.in_(chunk))).scalars())
    on_gateway: dict[str, list[MeterConfig]] = {}
    still_valid: list[MeterRow] = []
    for row in report.valid:
        meter_id = row.config.id
        if meter_id in existing:
            report.fail(row.row, "id", f"meter {meter_id} is registered already", meter_id)
            continue
        try:
            meters.check_place(
                session,
                caller,
                config=row.config,
                gateway_id=row.gateway_id,
                community_id=row.community_id,
                also=on_gateway.get(row.gateway_id, []),
            )
        except FleetError as exc:
            column, sep, rest = exc.message.partition(": ")
            if not sep or " " in column:  # "community x does not exist ..."
                column, rest = "community_id", exc.message
            report.fail(row.row, column, rest, meter_id)
            continue
        on_gateway.setdefault(row.gateway_id, []).append(row.config)
        still_valid.append(row)
    report.valid = still_valid
    report.sort()


def apply(session: Session, report: Report[MeterRow], now: datetime) -> tuple[int, set[str]]:
    """Write every row (the caller checked there are no errors); return (count, bumped)."""
    if report.errors:
        raise ValueError("an import with errors is not applied")
    at = now
    for row in report.valid:
        session.add(
            Meter(
                id=row.config.id,
                flat=row.config.flat,
                community_id=row.community_id,
                gateway_id=row.gateway_id,
                config=row.config.model_dump(mode="json", exclude_defaults=True),
                created_at=at,
            )
        )
    session.flush()
    return len(report.valid), config_push.bump_gateways(
        session, {r.gateway_id for r in report.valid}
    )


def check(session: Session, caller: Caller, data: bytes) -> Report[MeterRow]:
    """Read the file and check it against the registry (the whole of a dry run)."""
    report = parse(data)
    check_registry(session, caller, report)
    return report
