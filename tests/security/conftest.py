"""The security suite's world: the real broker, InfluxDB and fleet, two towns."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack
from tests.security.world import GW_A, GW_B, World


@pytest.fixture
def phones() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
async def world(tmp_path: Path, phones: Receiver) -> AsyncIterator[World]:
    stack = Stack(
        tmp_path / "stack",
        [GatewaySpec(GW_A, (0.0, 0.0)), GatewaySpec(GW_B, (500.0, 0.0))],
        fleet_settings={
            "notify_retry_s": 0.5,
            # Only the caregivers' phones may be reached on the loopback — not the
            # fleet's own InfluxDB, broker or API, which listen there too.
            "channel_allow_hosts": [f"127.0.0.1:{phones.port}"],
        },
    )
    await stack.start()
    try:
        w = World(stack, phones)
        await w.build()
        yield w
    finally:
        await stack.stop()
