"""Time series in InfluxDB over the 1.x HTTP API — the only module that talks to InfluxDB.

Line protocol goes to ``/write`` and InfluxQL to ``/query``; every InfluxDB generation
serves these (1.x natively, 2.x through its v1-compatibility API, 3.x Core natively),
whereas ``influxdb-client``'s transport speaks only the v2 API, which InfluxDB 1.x lacks.
We use that library only for its line-protocol builder (``Point``), which escapes
measurement, tag and field values correctly.

Writes are batched (up to ``batch_lines``, InfluxData's recommended ~5,000) and retried
with exponential backoff and jitter. While InfluxDB answers, lines wait in memory for
at most ``flush_interval_s``; what it does not take, and everything that arrives while
it is unreachable, goes to the on-disk spill (fleet/timeseries/spill.py) and is written
back from there — across fleet restarts.
"""

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import httpx
from influxdb_client.client.write.point import Point

from contract import Health, Reading, transport
from fleet.errors import Unavailable
from fleet.settings import InfluxSettings
from fleet.timeseries import retention
from fleet.timeseries.spill import Spill

log = logging.getLogger(__name__)

_BACKOFF_MAX_S = 30.0


class InfluxError(Unavailable):
    pass


class InfluxForbidden(InfluxError):
    """The fleet's InfluxDB user may not do this (a write-only user managing policies)."""


def _statement_error(result: dict[str, Any]) -> str:
    """InfluxQL answers 200 and reports a statement's failure inside the result."""
    for item in result.get("results", []):
        if "error" in item:
            return str(item["error"])
    return str(result.get("error", ""))


def telemetry_lines(gateway: str, readings: Iterable[Reading]) -> list[str]:
    lines = []
    for reading in readings:
        point = Point(reading.kind)
        point.tag("device", reading.device).tag("gateway", gateway)
        for name, value in reading.fields.items():
            point.field(name, value)
        if reading.rssi is not None:
            point.field("rssi", reading.rssi)
        if not reading.fields and reading.rssi is None:
            continue  # a point needs at least one field
        point.time(round(reading.ts * 1000), "ms")
        lines.append(point.to_line_protocol())
    return lines


def health_lines(health: Health) -> list[str]:
    """A gateway's heartbeat as one point of ``gateway_health`` (for the dashboards)."""
    point = Point("gateway_health").tag("gateway", health.gateway)
    point.field("uptime_s", float(health.uptime_s))
    for name, value in health.figures.items():
        if isinstance(value, bool | int | float):
            point.field(name, value)
    point.time(round(health.ts * 1000), "ms")
    return [point.to_line_protocol()]


def fleet_lines(instance: str, figures: dict[str, float | int | bool], at: float) -> list[str]:
    """A fleet process's own figures as one point of ``fleet`` (tag ``instance``): what
    the operations dashboard (dashboards/) shows per process."""
    point = Point("fleet").tag("instance", instance)
    for name, value in figures.items():
        point.field(name, value)
    point.time(round(at * 1000), "ms")
    return [point.to_line_protocol()]


class InfluxWriter:
    def __init__(
        self,
        settings: InfluxSettings,
        client: httpx.AsyncClient | None = None,
        *,
        spill: Spill | None = None,
    ) -> None:
        self._settings = settings
        self._spill = spill
        # HTTP basic auth: InfluxDB 1.x reads credentials from it or from the URL (not
        # from a POST body), and credentials in URLs end up in access logs.
        auth = (
            (settings.username, settings.password.get_secret_value()) if settings.username else None
        )
        self._client = client or httpx.AsyncClient(timeout=10.0, auth=auth)
        self._buffer: deque[str] = deque()
        # Callbacks of ``add(..., stored=)``: (lines added up to and including theirs,
        # callback), run once that many lines have left memory — written, spilled to
        # disk, or dropped and counted. The buffer is first in, first out, so counts do.
        self._added = 0
        self._settled = 0
        self._waiting: deque[tuple[int, Callable[[], None]]] = deque()
        self._wake = asyncio.Event()
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self.reachable = False

    @property
    def pending(self) -> int:
        return len(self._buffer) + (self._spill.lines if self._spill else 0)

    @property
    def spilled(self) -> int:
        """Lines on disk waiting for InfluxDB."""
        return self._spill.lines if self._spill else 0

    @property
    def spill_dropped(self) -> int:
        return self._spill.dropped if self._spill else 0

    def add(self, lines: Iterable[str], *, stored: Callable[[], None] | None = None) -> None:
        """Queue lines for InfluxDB; ``stored()`` is called once they are no longer only
        in memory (the ingest then acknowledges their MQTT message: a SIGKILL before
        that, and the broker sends the message again)."""
        if self._spill is not None and not self.reachable:
            # InfluxDB is not taking writes: straight to disk, so that a crash now loses
            # nothing the gateways have handed over. (A blocking fsync in the event loop:
            # a few milliseconds a batch, and only while InfluxDB is away.)
            self._spill.put(list(lines))
            if stored is not None:
                if self._waiting:  # behind lines still in memory: keep the order
                    self._waiting.append((self._added, stored))
                else:
                    stored()
            return
        before = len(self._buffer)
        self._buffer.extend(lines)
        self._added += len(self._buffer) - before
        if stored is not None:
            self._waiting.append((self._added, stored))
        overflow = len(self._buffer) - self._settings.buffer_lines
        if overflow > 0:
            for _ in range(overflow):
                self._buffer.popleft()
            self.dropped += overflow
            log.warning("influx: buffer full, dropped %d oldest lines", overflow)
            self._left_memory(overflow)
        if (
            len(self._buffer) >= self._settings.batch_lines
            or len(self._waiting) >= self._settings.flush_after_messages
        ):
            self._wake.set()

    def _left_memory(self, n: int) -> None:
        self._settled += n
        while self._waiting and self._waiting[0][0] <= self._settled:
            _, callback = self._waiting.popleft()
            try:
                callback()
            except Exception:  # an acknowledgement that failed is sent again by the broker
                log.exception("influx: a stored-callback failed")

    async def query(self, q: str, *, database: str | None = None) -> dict[str, Any]:
        params = {"q": q, "db": database or self._settings.database, "epoch": "ms"}
        try:
            response = await self._client.post(f"{self._settings.url}/query", data=params)
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB at {self._settings.url} unreachable: {exc}") from None
        if response.status_code == 403:
            raise InfluxForbidden(f"InfluxDB refused the query (403): {response.text[:200]}")
        if response.status_code != 200:
            raise InfluxError(
                f"InfluxDB query failed ({response.status_code}): {response.text[:200]}"
            )
        result: dict[str, Any] = response.json()
        return result

    async def ensure_database(self) -> None:
        """Create the database, its retention tiers and their continuous queries (idempotent).

        A user that may only write is refused these: then the operator made them, and
        the fleet writes on (see fleet/timeseries/retention.py).
        """
        try:
            await self.query(f'CREATE DATABASE "{self._settings.database}"', database="")
            for create, alter in retention.policy_statements(self._settings):
                result = await self.query(create)
                if _statement_error(result):
                    await self._checked(alter)
            await self._ensure_continuous_queries()
        except InfluxForbidden as exc:
            log.warning(
                "influx: this user may not manage the database (%s); writing to it as it is",
                str(exc)[:120],
            )

    async def _ensure_continuous_queries(self) -> None:
        """Make the continuous queries; one whose definition changed (an older release,
        another resample window) is dropped and made again."""
        db = self._settings.database
        existing: dict[str, str] = {}
        for statement in (await self.query("SHOW CONTINUOUS QUERIES")).get("results", []):
            for series in statement.get("series", []):
                if series.get("name") == db:
                    existing.update((row[0], row[1]) for row in series.get("values") or [])
        for name, create in retention.continuous_queries(self._settings).items():
            if name in existing:
                if retention.canonical(existing[name]) == retention.canonical(create):
                    continue
                log.info("influx: continuous query %s changed; making it again", name)
                await self._checked(f'DROP CONTINUOUS QUERY "{name}" ON "{db}"')
            await self._checked(create)

    async def backfill(self, since: datetime, until: datetime) -> None:
        """Fold [since, until) of raw points into the aggregates now (late telemetry)."""
        for statement in retention.backfill_statements(self._settings, since, until):
            await self._checked(statement)

    async def _checked(self, statement: str, *, tolerate: str = "") -> None:
        error = _statement_error(await self.query(statement))
        if error and "authoriz" in error.lower():
            raise InfluxForbidden(f"InfluxDB refused {statement.split(' ON ', 1)[0]}: {error}")
        if error and not (tolerate and tolerate in error):
            what = statement.split(" ON ", maxsplit=1)[0]
            raise InfluxError(f"InfluxDB refused {what}: {error}")

    async def _write(self, lines: list[str]) -> None:
        params = {"db": self._settings.database, "precision": "ms"}
        response = await self._client.post(
            f"{self._settings.url}/write", params=params, content="\n".join(lines).encode()
        )
        if response.status_code == 204:
            return
        if 400 <= response.status_code < 500 and response.status_code not in (404, 429):
            # A malformed line would fail forever: log it and let the batch go.
            log.error("influx: batch rejected (%d): %s", response.status_code, response.text[:300])
            self.dropped += len(lines)
            return
        raise InfluxError(f"InfluxDB write failed ({response.status_code})")

    async def flush(self) -> None:
        """Write everything buffered now, then the spill (used at shutdown and by tests).

        A failed write moves what is in memory to the spill before it raises."""
        while self._buffer:
            batch = [
                self._buffer.popleft()
                for _ in range(min(len(self._buffer), self._settings.batch_lines))
            ]
            try:
                await self._write(batch)
            except BaseException:  # failed, or cancelled by a shutdown deadline
                self._buffer.extendleft(reversed(batch))
                self.spill_memory()
                raise
            self.written += len(batch)
            self._left_memory(len(batch))
        while self._spill is not None and self._spill.lines:
            seqs, lines = self._spill.peek(self._settings.batch_lines)
            await self._write(lines)
            self._spill.remove(seqs)
            self.written += len(lines)

    def spill_memory(self) -> None:
        """Move the lines held in memory to the spill (InfluxDB failed, or shutdown)."""
        if self._spill is None or not self._buffer:
            return
        lines = list(self._buffer)
        self._buffer.clear()
        for start in range(0, len(lines), self._settings.batch_lines):
            self._spill.put(lines[start : start + self._settings.batch_lines])
        self._left_memory(len(lines))

    async def run(self) -> None:
        backoff = 0.5
        database_ready = False
        while True:
            try:
                if not database_ready:
                    await self.ensure_database()
                    database_ready = True
                await self.flush()
                self.reachable = True
                backoff = 0.5
            except (httpx.HTTPError, InfluxError) as exc:
                self.reachable = False
                self.failures += 1
                delay = backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311
                log.warning(
                    "influx: %s; %d lines held, retrying in %.1fs", exc, self.pending, delay
                )
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                await asyncio.sleep(delay)
                continue
            self._wake.clear()
            await transport.wait_event(self._wake, self._settings.flush_interval_s)

    async def aclose(self) -> None:
        self.spill_memory()
        await self._client.aclose()
        if self._spill is not None:
            self._spill.close()
