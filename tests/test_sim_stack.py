"""A district run that cannot start a gateway says which one and why."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from firmware_mocks.air import Air
from silverguard.servers.process import ChildProcess, ServerError
from silverguard.sim.stack import Stack


async def test_a_gateway_that_dies_at_start_is_named_with_its_log(tmp_path: Path):
    dying = ChildProcess(
        "gateway gw-09",
        [sys.executable, "-c", "import sys; print('config: bad port /dev/nope'); sys.exit(3)"],
        tmp_path / "gateway.log",
    )
    dying.start()
    stack = SimpleNamespace(air=Air())  # only the air is asked
    with pytest.raises(ServerError, match=r"gateway gw-09 exited during start-up") as caught:
        await Stack._on_air(stack, "gw-09", dying, timeout=30.0)  # type: ignore[arg-type]
    assert "config: bad port /dev/nope" in str(caught.value)


async def test_a_gateway_that_never_listens_is_named_after_the_timeout(tmp_path: Path):
    silent = ChildProcess(
        "gateway gw-10", [sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "g.log"
    )
    silent.start()
    try:
        stack = SimpleNamespace(air=Air())
        with pytest.raises(ServerError, match=r"gateway gw-10 did not listen .* in 1 s"):
            await Stack._on_air(stack, "gw-10", silent, timeout=1.0)  # type: ignore[arg-type]
    finally:
        silent.stop()
