import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.outbox import Outbox, OutboxFull, read_backlog


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


def test_events_alone_may_exceed_the_bound_they_are_never_dropped(tmp_path: Path):
    box = Outbox(tmp_path / "o.db", max_bytes=1_000)
    for i in range(10):
        box.put_telemetry("t", bytes(300), now=1000.0 + i)
    for i in range(10):
        assert box.put_event(f"ev-{i}", "t", bytes(500))
    assert box.depth() == {"event": 10, "telemetry": 0}
    assert box.size_bytes() == 5_000


def test_old_telemetry_expires(tmp_path: Path):
    box = Outbox(tmp_path / "o.db", max_telemetry_age_s=60)
    box.put_telemetry("t", b"old", now=1000.0)
    box.put_telemetry("t", b"new", now=1100.0)
    assert [e.payload for e in box.pending("telemetry")] == [b"new"]
    assert box.thinned == 1


def test_thinned_total_outlives_a_restart(tmp_path: Path):
    box = Outbox(tmp_path / "o.db", max_telemetry_age_s=60)
    box.put_telemetry("t", b"old", now=1000.0)
    box.put_telemetry("t", b"new", now=1100.0)
    box.close()
    box = Outbox(tmp_path / "o.db")
    assert box.thinned == 0  # since this start
    assert box.thinned_total == 1


def test_backlog_reports_count_bytes_and_oldest_per_kind(tmp_path: Path):
    box = Outbox(tmp_path / "o.db")
    box.put_event("ev-1", "t", b"abc", now=1000.0)
    box.put_event("ev-2", "t", b"de", now=1010.0)
    box.put_telemetry("t", b"xyzw", now=1005.0)
    backlog = box.backlog()
    assert backlog["event"].count == 2
    assert backlog["event"].bytes == 5
    assert backlog["event"].oldest_age_s(1060.0) == 60.0
    assert backlog["telemetry"].count == 1
    box.ack_events(["ev-1", "ev-2"])
    assert box.backlog()["event"].oldest is None


def test_backlog_can_be_read_while_the_gateway_has_it_open(tmp_path: Path):
    box = Outbox(tmp_path / "o.db")
    box.put_event("ev-1", "t", b"abc", now=1000.0)
    backlog, thinned = read_backlog(tmp_path / "o.db")
    assert backlog["event"].count == 1
    assert thinned == 0
    box.close()
    backlog, _ = read_backlog(tmp_path / "o.db")  # and after it stopped
    assert backlog["event"].count == 1
    with pytest.raises(sqlite3.Error):
        read_backlog(tmp_path / "missing.db")


def test_a_queued_event_can_be_rewritten(tmp_path: Path):
    box = Outbox(tmp_path / "o.db")
    box.put_event("ev-1", "t", b"short")
    assert box.replace_event("ev-1", b"a longer payload")
    assert box.event("ev-1").payload == b"a longer payload"  # type: ignore[union-attr]
    assert box.size_bytes() == len(b"a longer payload")
    assert not box.replace_event("ev-unknown", b"x")


def test_a_full_disk_drops_telemetry_to_keep_events(tmp_path: Path):
    # A 64 KiB ceiling on the file behaves as a full disk (SQLITE_FULL).
    box = Outbox(tmp_path / "o.db", max_file_bytes=64 << 10)
    stored_telemetry = 0
    for i in range(200):
        stored_telemetry += box.put_telemetry("t", bytes(1000), now=1000.0 + i)
    assert box.full_errors > 0
    assert box.thinned > 0
    for i in range(20):
        assert box.put_event(f"ev-{i}", "t", bytes(500))
    assert box.depth()["event"] == 20

    # Nothing left to drop and still no room: the caller is told, nothing is pretended.
    def fill() -> None:
        for i in range(200):
            box.put_event(f"ev-more-{i}", "t", bytes(1000))

    with pytest.raises(OutboxFull):
        fill()
    assert box.depth()["event"] >= 20


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.integers(0, 30), st.binary(max_size=300)),
        st.tuples(st.just("telemetry"), st.integers(0, 30), st.binary(max_size=300)),
        st.tuples(st.just("ack"), st.integers(0, 30), st.just(b"")),
        st.tuples(st.just("remove"), st.integers(0, 5), st.just(b"")),
    ),
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(ops=_OPS)
def test_the_running_byte_total_always_equals_the_stored_payloads(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("ob") / "o.db"
    box = Outbox(path, max_bytes=2_000, max_telemetry_age_s=20)
    events: set[str] = set()
    for step, (op, n, payload) in enumerate(ops):
        if op == "event":
            box.put_event(f"ev-{n}", "t", payload, now=float(step))
            events.add(f"ev-{n}")
        elif op == "telemetry":
            box.put_telemetry("t", payload, now=float(step))
        elif op == "ack":
            box.ack_events([f"ev-{n}"])
            events.discard(f"ev-{n}")
        else:
            box.remove(e.seq for e in box.pending("telemetry", limit=n))
        (actual,) = box._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox")
        assert box.size_bytes() == actual[0]
    assert {e.event_id for e in box.pending("event", limit=1000)} == events  # never dropped
    box.close()
    assert Outbox(path).size_bytes() == box.size_bytes()


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from edge.outbox import Outbox

    box = Outbox(Path(sys.argv[1]), max_bytes=50_000)
    i = 0
    while True:
        box.put_telemetry("t", bytes(200))
        if box.put_event(f"ev-{i}", "t", b"x" * 100):
            # Printed only after put_event returned: the row is committed.
            print(i, flush=True)
        i += 1
    """
)


def test_an_event_accepted_before_kill_minus_9_is_still_there(tmp_path: Path):
    path = tmp_path / "o.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    accepted = []
    for line in writer.stdout:
        accepted.append(int(line))
        if len(accepted) == 300:
            writer.kill()  # SIGKILL in the middle of the burst
            break
    writer.wait(10)
    accepted += [int(line) for line in writer.stdout.read().split()]
    writer.stdout.close()
    box = Outbox(path)
    stored = {e.event_id for e in box.pending("event", limit=100_000)}
    missing = [i for i in accepted if f"ev-{i}" not in stored]
    print(
        f"\naccepted {len(accepted)} events before SIGKILL, {len(stored)} stored, lost {len(missing)}"
    )
    assert missing == []
    assert box.size_bytes() == sum(len(e.payload) for e in box.pending("event", 100_000)) + sum(
        len(e.payload) for e in box.pending("telemetry", 100_000)
    )
    box.close()


def synced_writes(statements: list[str]) -> int:
    """Commits made with synchronous=FULL: explicit ones, and autocommitted writes."""
    n, full, in_transaction = 0, True, False
    for sql in statements:
        verb = sql.split()[0].upper()
        if sql.startswith("PRAGMA synchronous"):
            full = sql.endswith("FULL")
        elif verb == "BEGIN":
            in_transaction = True
        elif verb in ("COMMIT", "ROLLBACK"):
            in_transaction = False
            n += full and verb == "COMMIT"
        elif verb in ("INSERT", "UPDATE", "DELETE") and not in_transaction:
            n += full
    return n


def test_a_telemetry_batch_costs_one_synced_write(tmp_path: Path):
    # A gateway's data partition is often an SD card: each fsync is wear and a stall
    # of the event loop. A telemetry batch is synced once, when it is stored; expiry
    # writes only when something has expired, and the removal after the broker's
    # PUBACK is not synced (lost in a power cut, the batch is only sent again).
    box = Outbox(tmp_path / "o.db", max_telemetry_age_s=60)
    statements: list[str] = []
    box._db.set_trace_callback(statements.append)
    box.put_telemetry("t", b"batch", now=1000.0)
    (entry,) = box.pending("telemetry")
    box.remove([entry.seq])
    assert synced_writes(statements) == 1
    assert box.pending("telemetry") == []
    statements.clear()
    box.put_event("ev-1", "t", b"event", now=1000.0)
    assert synced_writes(statements) == 1  # events are synced, as ever
    statements.clear()
    box.put_telemetry("t", b"old", now=1000.0)
    box.put_telemetry("t", b"new", now=1100.0)  # now the first one has expired
    assert synced_writes(statements) == 3
    assert [e.payload for e in box.pending("telemetry")] == [b"new"]
