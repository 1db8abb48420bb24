"""The band's activity facts from a real InfluxDB: a week's daily steps against the
resident's own baseline, and the share of steps taken at night."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from fleet.risk import activity, tags
from fleet.risk.facts import Facts
from fleet.settings import InfluxSettings
from fleet.timeseries.influx import InfluxWriter
from silverguard.servers.influxdb import InfluxServer

BEIJING = timedelta(hours=8)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 20:00 in the district
TIRING = "C2:00:00:00:00:01"  # 4,000 steps a day for four weeks, then 1,800
RESTLESS = "C2:00:00:00:00:02"  # 400 steps an hour at night, 100 by day


def test_the_ratio_needs_a_baseline_and_the_night_is_local():
    midnight = datetime(2026, 11, 19, 16, tzinfo=UTC)  # 00:00 on the 20th in Beijing
    days = [(midnight - timedelta(days=d), 4000.0) for d in range(8, 36)]
    days += [(midnight - timedelta(days=d), 2000.0) for d in range(1, 8)]
    today = [(midnight, 300.0)]  # today so far: not a whole day, left out
    assert activity.ratio(days + today, NOW, BEIJING) == 0.5
    assert activity.ratio(days[-10:], NOW, BEIJING) is None  # three baseline days: too few
    assert activity.ratio([], NOW, BEIJING) is None
    # 15:00 UTC is 23:00 in Beijing (night); 02:00 UTC is 10:00 (day).
    hours = [
        (datetime(2026, 11, 19, 15, tzinfo=UTC), 300.0),
        (datetime(2026, 11, 19, 2, tzinfo=UTC), 100.0),
    ]
    assert activity.night_share(hours, BEIJING) == 0.75
    assert activity.night_share([], BEIJING) is None


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path / "influx").start()
    try:
        yield server
    finally:
        server.stop()


def lines() -> list[str]:
    out = []
    local_midnight = (NOW + BEIJING).replace(hour=0, minute=0) - BEIJING  # today's, in UTC
    for d in range(1, 36):
        start = local_midnight - timedelta(days=d)
        total = 1800 if d <= 7 else 4000
        for at, steps in (
            (start + timedelta(minutes=10), 0),
            (start + timedelta(hours=23, minutes=50), total),
        ):
            out.append(
                f"wristband,device={TIRING},gateway=gw-01 steps={steps}i {int(at.timestamp())}"
            )
    counter = 0
    hour = NOW.replace(minute=0) - timedelta(days=7)
    while hour < NOW - timedelta(hours=1):
        local = (hour + BEIJING).hour
        step = 400 if local in activity.NIGHT_HOURS else 100
        for minute, value in ((5, counter), (55, counter + step)):
            at = hour + timedelta(minutes=minute)
            out.append(
                f"wristband,device={RESTLESS},gateway=gw-01 steps={value}i {int(at.timestamp())}"
            )
        counter += step
        hour += timedelta(hours=1)
    return out


async def test_activity_facts_from_the_time_series(influx: InfluxServer):
    database = f"t_{uuid.uuid4().hex[:12]}"
    assert (
        httpx.post(f"{influx.url}/query", data={"q": f'CREATE DATABASE "{database}"'}).status_code
        == 200
    )
    written = httpx.post(
        f"{influx.url}/write",
        params={"db": database, "precision": "s"},
        content="\n".join(lines()).encode(),
        timeout=30,
    )
    assert written.status_code == 204, written.text
    writer = InfluxWriter(InfluxSettings(url=influx.url, database=database))
    try:
        facts = await activity.activity(
            writer, {TIRING: "r-1", RESTLESS: "r-2", "C2:00:00:00:00:09": "r-9"}, NOW, BEIJING
        )
    finally:
        await writer.aclose()
    assert facts["r-1"].ratio_7d == 0.45  # 1,800 / 4,000
    assert facts["r-2"].night_share_7d == pytest.approx(0.667, abs=0.01)  # 8x400 / (8x400 + 16x100)
    assert facts["r-2"].ratio_7d is None  # one week of data: no baseline yet
    assert "r-9" not in facts  # a band without readings has no activity facts

    table = tags.load()
    tiring = tags.evaluate(table, Facts(activity_ratio_7d=facts["r-1"].ratio_7d), NOW.date())
    assert [h.tag for h in tiring] == ["activity_declining"]
    assert tiring[0].evidence_zh == "近 7 天日均步数为本人此前基线的 45%（阈值 60%）"
    restless = tags.evaluate(
        table, Facts(night_activity_share_7d=facts["r-2"].night_share_7d), NOW.date()
    )
    assert [h.tag for h in restless] == ["restless_nights"]
