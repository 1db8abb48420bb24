"""The band's troubles in the district's script (pure): when they fit a run, that the
battery really runs flat on the simulated band, and that the ledger reads the digest
the fleet's own template writes."""

from datetime import UTC, datetime

from firmware_mocks.population import SimulatedBand
from firmware_mocks.wristband import Wristband
from fleet.notify.templates import DigestItem, render_digest
from silverguard.sim import digests
from silverguard.sim.district import SEED_FILE, build, read_district_file
from silverguard.sim.ledger import Verdict
from silverguard.sim.scenario import ZONE

DISTRICT = build(read_district_file(SEED_FILE), 1, residents=60)
START = datetime(2026, 12, 6, 6, 0, tzinfo=ZONE).timestamp()
SLACK = 1680.0


def _plan(days: float, at_home=lambda _r, _t: True, exclude=frozenset()):  # type: ignore[no-untyped-def]
    return digests.plan(
        DISTRICT, 1, START, START + days * 86400, slack_s=SLACK, at_home=at_home, exclude=exclude
    )


def test_a_run_that_ends_before_the_evenings_digest_expects_none():
    assert _plan(0.4) == []  # 06:00 to 15:36
    day = _plan(1.0)
    assert {p.trouble for p in day} == set(digests.Trouble)
    for p in day:
        local = datetime.fromtimestamp(p.at, ZONE)
        assert 10 <= local.hour < 15
        assert datetime.fromtimestamp(p.digest_at, ZONE).strftime("%H:%M") == "20:00"
    assert len({p.resident.id for p in day}) == len(day)


def test_only_residents_at_home_and_not_excluded_are_chosen():
    away = {r.id for r in DISTRICT.residents[::2]}
    chosen = _plan(2.0, at_home=lambda r, _t: r not in away, exclude=frozenset({"r-000002"}))
    assert chosen
    assert not {p.resident.id for p in chosen} & (away | {"r-000002"})


def test_the_band_runs_flat_after_the_digest_would_remind_the_caregiver():
    born = START - 3 * 86400
    sim = SimulatedBand(Wristband("C2:00:00:00:00:01", b"k" * 16), 0.0, 0.0, born=born)
    at = START + 5 * 3600  # 11:00
    sim.drain_pct_per_day = digests.FLAT_DRAIN_PCT_PER_DAY
    sim.battery_start = digests.battery_start_for(at, born)
    level = {}
    for hour in (11, 15, 20, 30):
        sim.update(START + (hour - 6) * 3600)
        level[hour] = sim.band.battery
    assert level[11] == 24
    assert level[15] <= 20  # the gateways' "low" line, well before the 20:00 digest
    assert level[20] > 0  # still alive when the caregiver reads the digest
    assert level[30] == 0  # and empty by the next morning if nobody charges it


def _digest(name: str, kind: str, locale: str = "zh-CN") -> str:
    message = render_digest(
        locale=locale,
        day="2026-12-06",
        items=[DigestItem(name, kind, datetime(2026, 12, 6, 6, tzinfo=UTC))],
    )
    return f"{message.title}\n{message.body}"


def test_the_ledger_reads_the_digest_the_fleet_writes():
    p = next(p for p in _plan(1.0) if p.trouble is digests.Trouble.NOT_WORN)
    who, caregiver = digests.resident_name(p.resident), p.resident.caregiver_id
    on_time = p.digest_at + 30
    assert digests.judge(p, SLACK, [(caregiver, on_time, _digest(who, "not_worn"))]).verdict is (
        Verdict.MATCHED
    )
    assert digests.judge(
        p, SLACK, [(caregiver, on_time, _digest(who, "not_worn", "en"))]
    ).verdict is (Verdict.MATCHED)
    late = [(caregiver, p.digest_at + SLACK + 60, _digest(who, "not_worn"))]
    assert digests.judge(p, SLACK, late).verdict is Verdict.LATE
    for wrong in (
        (caregiver, on_time, _digest(who, "low_battery")),  # another trouble
        (caregiver, on_time, _digest("居民999999", "not_worn")),  # someone else
        ("cg-other", on_time, _digest(who, "not_worn")),  # another phone
    ):
        assert digests.judge(p, SLACK, [wrong]).verdict is Verdict.MISSED
