import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.ingest.source import Partition, SourceSelector

BAND = "C2:00:00:00:00:01"


def test_the_stronger_gateway_wins_and_a_reading_is_kept_once_per_round():
    selector = SourceSelector()
    kept = []
    for t in range(10):
        kept += [
            g
            for g, rssi in (("gw-a", -80), ("gw-b", -60))
            if selector.accept(BAND, g, rssi, float(t))
        ]
    assert selector.source_of(BAND) == "gw-b"
    assert kept.count("gw-b") >= 9  # after the first round or two, only gw-b's
    assert len(kept) <= 11  # never both gateways' readings in a round, but the switch


def test_two_equal_gateways_do_not_take_turns():
    rng = random.Random(4)
    selector = SourceSelector()
    for t in range(600):  # ten minutes of 3 dB fading on two equally placed gateways
        for gateway in ("gw-a", "gw-b"):
            selector.accept(BAND, gateway, -75 + rng.gauss(0, 3), float(t))
    assert selector.handovers <= 1


def test_hands_over_when_the_resident_walks_to_the_other_gateway():
    selector = SourceSelector()
    t = 0.0
    for _ in range(20):
        selector.accept(BAND, "gw-a", -60, t)
        selector.accept(BAND, "gw-b", -85, t)
        t += 1
    assert selector.source_of(BAND) == "gw-a"
    for step in range(40):  # walking from a towards b
        selector.accept(BAND, "gw-a", -60 - step, t)
        selector.accept(BAND, "gw-b", -85 + step, t)
        t += 1
    assert selector.source_of(BAND) == "gw-b"
    assert selector.handovers == 1


def test_a_silent_source_is_replaced_after_the_stale_span():
    selector = SourceSelector(stale_s=30)
    selector.accept(BAND, "gw-a", -50, 0.0)
    assert not selector.accept(BAND, "gw-b", -90, 10.0)  # gw-a is still fresh
    assert selector.accept(BAND, "gw-b", -90, 31.0)  # gw-a has not heard it for 31 s


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(-100, -30), st.floats(0, 1e6)),
        max_size=200,
    )
)
def test_at_most_one_gateway_is_the_source(readings):
    selector = SourceSelector()
    for gateway, rssi, ts in readings:
        selector.accept(BAND, gateway, rssi, ts)
        assert selector.source_of(BAND) in {None, "a", "b", "c"}


def test_partitions_split_devices_between_instances():
    parts = [Partition.parse(f"{i}/3") for i in range(3)]
    devices = [f"C2:00:00:00:{i // 256:02X}:{i % 256:02X}" for i in range(900)]
    owners = [sum(p.owns(d) for p in parts) for d in devices]
    assert owners == [1] * 900
    assert all(200 < sum(p.owns(d) for d in devices) < 400 for p in parts)
    for bad in ("1", "3/3", "a/b", "0/0"):
        with pytest.raises(ValueError, match="partition"):
            Partition.parse(bad)


def test_a_switch_does_not_keep_the_same_moment_twice():
    selector = SourceSelector()
    assert selector.accept(BAND, "gw-far", -90, 100.0)  # heard first, kept
    assert not selector.accept(BAND, "gw-near", -55, 100.2)  # same advert: source changes, not kept
    assert selector.source_of(BAND) == "gw-near"
    assert selector.accept(BAND, "gw-near", -55, 110.0)
