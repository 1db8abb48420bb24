"""A gateway offline too long raises "residents unprotected" once; its return resolves it."""

from contract import EventKind, GatewayStatus
from fleet.coverage import CoverageWatch

WILL_TS = 1_790_000_000.0  # the ts inside the will: fixed when that connection was made


def offline(ts: float = WILL_TS) -> GatewayStatus:
    return GatewayStatus(gateway="gw-01", state="offline", ts=ts)


def online(ts: float) -> GatewayStatus:
    return GatewayStatus(gateway="gw-01", state="online", ts=ts)


def test_an_outage_past_the_span_raises_one_event_and_the_return_resolves_it():
    watch = CoverageWatch(after_s=300)
    watch.on_status(offline(), now=1000.0)
    assert watch.due(1299.0) == []
    (raised,) = watch.due(1300.0)
    assert raised.kind is EventKind.GATEWAY_OFFLINE
    assert raised.device == "gw-01"
    assert watch.due(1400.0) == []  # once per outage
    watch.on_status(offline(), now=1500.0)  # the retained will again (a resubscribe)
    assert watch.due(2000.0) == []
    watch.on_status(online(WILL_TS + 2000), now=2100.0)
    (back,) = watch.due(2100.0)
    assert back.kind is EventKind.GATEWAY_ONLINE


def test_a_short_outage_raises_nothing():
    watch = CoverageWatch(after_s=300)
    watch.on_status(offline(), now=1000.0)
    watch.on_status(online(WILL_TS + 60), now=1060.0)
    assert watch.due(5000.0) == []


def test_every_instance_and_a_restart_derive_the_same_id():
    first, second = CoverageWatch(after_s=10), CoverageWatch(after_s=10)
    first.on_status(offline(), now=100.0)
    second.on_status(offline(), now=103.5)  # saw the will a little later
    (a,) = first.due(200.0)
    (b,) = second.due(200.0)
    assert a.id == b.id
    restarted = CoverageWatch(after_s=10)
    restarted.on_status(offline(), now=900.0)  # the retained will, after a fleet restart
    (c,) = restarted.due(950.0)
    assert c.id == a.id


def test_a_new_connection_is_a_new_outage():
    watch = CoverageWatch(after_s=10)
    watch.on_status(offline(WILL_TS), now=100.0)
    (first,) = watch.due(200.0)
    watch.on_status(online(WILL_TS + 150), now=250.0)
    watch.due(250.0)
    watch.on_status(offline(WILL_TS + 150), now=300.0)  # the next connection's will
    (second,) = watch.due(400.0)
    assert second.id != first.id
