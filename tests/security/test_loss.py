"""Nothing acknowledged is lost: telemetry handed over while InfluxDB is down survives a
SIGKILL of the fleet (the probe lost 600 of 600 readings).

The issue speaks of InfluxDB down for 10 minutes; here it is down for as long as the
test takes (seconds). The code path is the same: while the writer knows InfluxDB is
unreachable every line goes to the on-disk spill before the handler returns, and a
minute or an hour only makes the spill longer (up to ``influx.spill_max_mb``).
"""

import time

import pytest

from contract import TopicKind
from tests.security.world import BAND_A, GW_A, World, reading, telemetry
from tests.waiting import eventually

pytestmark = [pytest.mark.security, pytest.mark.e2e, pytest.mark.faults]

READINGS = 600
PER_BATCH = 100


async def count_in_influx(world: World) -> int:
    result = await world.stack.influx_query(
        f"SELECT count(steps) FROM wristband WHERE device = '{BAND_A}'"
    )
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def test_telemetry_survives_influxdb_down_and_a_fleet_sigkill(world: World):
    stack = world.stack
    stack.influx.stop()
    start = time.time() - READINGS - 10
    # One reading first: the fleet's writer tries it, fails, and knows InfluxDB is away.
    await world.send(GW_A, TopicKind.TELEMETRY, telemetry(GW_A, 0, reading(BAND_A, ts=start)))

    async def influx_down() -> bool:
        return (await world.health())["influxdb"] != "ok"

    await eventually(influx_down, 30, "the fleet to notice InfluxDB is down")
    batches = [
        telemetry(
            GW_A,
            1 + b,
            *(
                reading(BAND_A, ts=start + 1 + i, steps=i)
                for i in range(b * PER_BATCH, (b + 1) * PER_BATCH)
            ),
        )
        for b in range(READINGS // PER_BATCH)
    ]
    await world.send(GW_A, TopicKind.TELEMETRY, *batches)

    async def all_handed_over() -> bool:
        return int((await world.health())["telemetry"]["kept"]) == READINGS + 1

    await eventually(all_handed_over, 30, "every reading handled by the fleet")
    spilled = (await world.health())["influx_spill"]["lines"]
    assert stack.fleet_process is not None
    stack.fleet_process.kill()  # as a power cut would: no shutdown, no flush

    stack.influx.start()
    await stack.start_fleet()

    async def stored() -> int | None:
        n = await count_in_influx(world)
        return n if n >= READINGS + 1 else None

    n = await eventually(stored, 60, "the spilled readings in InfluxDB")
    print(
        f"\nspill across InfluxDB down + fleet SIGKILL: sent {READINGS + 1}, "
        f"on disk at the kill {spilled}, stored {n}, lost {READINGS + 1 - n}"
    )
    assert spilled == READINGS + 1
    assert n == READINGS + 1
    assert (await world.health())["influx_spill"]["lines"] == 0
