from pathlib import Path

from edge.outbox import Outbox


def test_events_survive_a_reopen_and_leave_only_when_acknowledged(tmp_path: Path):
    box = Outbox(tmp_path / "o.db")
    assert box.put_event("ev-1", "t", b"x")
    assert not box.put_event("ev-1", "t", b"x")  # a repeated copy
    box.close()
    box = Outbox(tmp_path / "o.db")
    assert [e.event_id for e in box.pending("event")] == ["ev-1"]
    assert box.ack_events(["ev-1"]) == 1
    assert box.pending("event") == []


def test_under_pressure_telemetry_is_thinned_oldest_first_and_events_kept(tmp_path: Path):
    box = Outbox(tmp_path / "o.db", max_bytes=10_000)
    for i in range(5):
        box.put_event(f"ev-{i}", "t", bytes(1000))
    for i in range(20):
        box.put_telemetry("t", bytes([i]) * 1000, now=1000.0 + i)
    assert box.depth()["event"] == 5
    kept = box.pending("telemetry", limit=100)
    assert box.size_bytes() <= 10_000
    assert kept[-1].payload[0] == 19  # the newest survive
    assert box.thinned == 20 - len(kept)


def test_old_telemetry_expires(tmp_path: Path):
    box = Outbox(tmp_path / "o.db", max_telemetry_age_s=60)
    box.put_telemetry("t", b"old", now=1000.0)
    box.put_telemetry("t", b"new", now=1100.0)
    assert [e.payload for e in box.pending("telemetry")] == [b"new"]
