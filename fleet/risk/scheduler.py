"""The day's risk tags, computed by the fleet itself: once an hour (product time) the
current local day is evaluated again, so a new day's tags exist within the hour after
midnight and the day's events and reports show by the evening. An evaluation of a day
is idempotent (fleet.risk.daily), so several fleet instances may each run it."""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contract import transport
from fleet import clock
from fleet.db.models import Wristband
from fleet.db.session import utcnow
from fleet.risk import activity, daily
from fleet.timeseries.history import Queries

log = logging.getLogger(__name__)

EVERY_S = 3600.0
# At most every 30 real seconds: an evaluation of 867 residents takes 1-2.5 s of CPU,
# and with the simulated clock at 300x an hour is 12 s of wall time — the district ran
# it 20 % of the time. At 300x this is still every 2.5 simulated hours.
MIN_WALL_S = 30.0


class RiskDaily:
    def __init__(
        self,
        sessions: "sessionmaker[Session]",
        *,
        series: Queries | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._series = series
        self._now = now
        self.wake = asyncio.Event()
        self.runs = 0
        self.last: daily.DayResult | None = None

    def bands(self) -> dict[str, str]:
        with self._sessions() as session:
            rows = session.execute(
                select(Wristband.mac, Wristband.resident_id).where(
                    Wristband.resident_id.is_not(None), Wristband.state == "active"
                )
            ).all()
        return {mac: resident for mac, resident in rows if resident is not None}

    async def activity(self) -> dict[str, daily.Activity] | None:
        """The telemetry facts; None (missing, not fine) when InfluxDB does not answer."""
        if self._series is None:
            return None
        now = self._now()
        offset = now.astimezone(clock.zone()).utcoffset() or timedelta(0)
        try:
            bands = await asyncio.to_thread(self.bands)
            return await activity.activity(self._series, bands, now, offset)
        except Exception as exc:  # the tags from the registry still come
            log.warning("risk: no activity facts from the time series: %s", exc)
            return None

    def tick(self, facts: dict[str, daily.Activity] | None = None) -> daily.DayResult:
        day = self._now().astimezone(clock.zone()).date()
        with self._sessions.begin() as session:
            result = daily.evaluate_day(session, day, activity=facts)
        self.runs += 1
        self.last = result
        return result

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                facts = await self.activity()
                result = await asyncio.to_thread(self.tick, facts)
                log.info(
                    "risk: %s evaluated: %d tags (%d new, %d ended) over %d residents",
                    result.day,
                    result.tags,
                    result.started,
                    result.ended,
                    result.residents,
                )
            except Exception:
                log.exception("risk: the day's evaluation failed; retrying within the hour")
            await transport.wait_event(self.wake, clock.poll_s(EVERY_S, floor_s=MIN_WALL_S))
