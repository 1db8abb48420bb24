"""Shared fixtures. Servers are real and private: each test that needs Mosquitto or
InfluxDB starts its own from the installed binaries, on free ports."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """Mosquitto, InfluxDB and the fleet running; two gateways ready to start."""
    s = Stack(
        tmp_path / "stack",
        [GatewaySpec("gw-01", (0.0, 0.0)), GatewaySpec("gw-02", (12.0, 0.0))],
        telemetry_interval_s=1.0,
        event_resend_s=3.0,
    )
    await s.start()
    try:
        yield s
    finally:
        await s.stop()
