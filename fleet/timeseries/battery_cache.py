"""The fleet's battery figures for every band, computed from a week of InfluxDB history
(fleet/timeseries/history.py, fleet/battery.py) and reused for ``battery_cache_s``:
abnormal drain compares a band with the whole fleet's median, so they are computed
for all bands at once, not per request."""

import asyncio
from datetime import datetime, timedelta

from fleet import battery
from fleet.timeseries import history


class BatteryCache:
    """The fleet's battery figures, computed at most once per ``ttl`` (one at a time)."""

    def __init__(self, source: history.Queries, ttl: timedelta) -> None:
        self._source = source
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._report: battery.FleetBattery | None = None

    async def get(self, now: datetime) -> battery.FleetBattery:
        async with self._lock:
            report = self._report
            if report is None or now - report.computed_at >= self._ttl or now < report.computed_at:
                series, latest = await history.battery(self._source, now)
                report = self._report = battery.assess(series, latest, now)
            return report
