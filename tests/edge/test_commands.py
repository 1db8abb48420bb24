"""Band commands wait until their band is heard, and expire when pointless."""

from edge.commands import BandCommandQueue
from edge.rules.actions import BandCommand, CommandKind
from tests.factories import MAC


def _reminder(key: str, expires: float) -> BandCommand:
    return BandCommand(
        CommandKind.MEDICATION_REMINDER, MAC, key, created_at=0.0, expires_at=expires
    )


def test_commands_wait_for_their_band_and_expire():
    queue = BandCommandQueue()
    queue.put([_reminder("a", 100.0), _reminder("a", 100.0), _reminder("b", 50.0)], now=10.0)
    assert len(queue) == 2
    assert queue.take_ready(lambda mac: 5.0, now=11.0) == []  # heard before it was queued
    assert [c.key for c in queue.take_ready(lambda mac: 12.0, now=60.0)] == ["a"]
    assert (queue.delivered, queue.expired, len(queue)) == (1, 1, 0)


def test_the_command_queue_is_bounded():
    queue = BandCommandQueue(max_pending=3)
    queue.put([_reminder(str(i), 100.0) for i in range(5)], now=0.0)
    assert len(queue) == 3
    assert queue.dropped == 2
