from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import Event, EventKind, Severity, TelemetryBatch, decode
from edge.ble.advert import Advert
from edge.decode.bthome import BTHomeDecoder
from edge.device_store import DeviceStore
from edge.outbox import Outbox
from edge.pipeline import Pipeline
from firmware_mocks import bthome
from firmware_mocks.wristband import Button
from tests.factories import KEY, MAC, advert_from, wristband


class Clock:
    def __init__(self, t: float = 1_790_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def pipeline(tmp_path: Path, name: str = "gw-01", key: bytes = KEY) -> Pipeline:
    return Pipeline(name, BTHomeDecoder({MAC: key}), Outbox(tmp_path / f"{name}.db"), clock=Clock())


def stored_events(p: Pipeline) -> list[Event]:
    return [decode(e.payload, Event) for e in p.outbox.pending("event")]


def test_a_long_press_becomes_one_critical_sos_event(tmp_path: Path):
    p = pipeline(tmp_path)
    band = wristband()
    band.press(Button.LONG)
    for _ in range(band.repeats + 3):  # every copy, and then some
        p.on_advert(advert_from(band))
    (event,) = stored_events(p)
    assert event.kind is EventKind.SOS
    assert event.severity is Severity.CRITICAL
    assert event.device == MAC


def test_two_gateways_give_the_same_id_even_when_one_missed_the_first_copy(tmp_path: Path):
    near, far = pipeline(tmp_path, "gw-01"), pipeline(tmp_path, "gw-02")
    band = wristband()
    band.press(Button.LONG)
    first = advert_from(band)
    second = advert_from(band)
    near.on_advert(first)
    near.on_advert(second)
    far.on_advert(second)  # the first copy was lost on the way to gw-02
    assert [e.id for e in stored_events(near)] == [e.id for e in stored_events(far)]


def test_a_short_press_is_not_an_sos(tmp_path: Path):
    p = pipeline(tmp_path)
    band = wristband()
    band.press(Button.SHORT)
    for _ in range(3):
        p.on_advert(advert_from(band))
    assert stored_events(p) == []


def test_wrong_key_and_replay_produce_no_event_and_are_counted(tmp_path: Path):
    wrong = pipeline(tmp_path, "gw-01", key=bytes(16))
    right = pipeline(tmp_path, "gw-02")
    band = wristband()
    band.press(Button.LONG)
    advert = advert_from(band)
    wrong.on_advert(advert)
    assert stored_events(wrong) == []
    assert wrong.rejects["wrong_key"] == 1

    right.on_advert(advert)
    right.outbox.ack_events([e.id for e in stored_events(right)])  # the fleet stored it
    right.on_advert(advert)  # the same advert, captured and replayed
    assert stored_events(right) == []
    assert right.rejects["replay"] == 1


def test_telemetry_carries_each_bands_latest_state_once(tmp_path: Path):
    p = pipeline(tmp_path)
    band = wristband(status_every=2, battery=77, steps=4242)
    for _ in range(4):
        p.on_advert(advert_from(band))
    assert p.flush_telemetry() == 1
    assert p.flush_telemetry() == 0  # nothing new since
    (entry,) = p.outbox.pending("telemetry")
    batch = decode(entry.payload, TelemetryBatch)
    (reading,) = batch.readings
    assert reading.device == MAC
    assert reading.fields["battery"] == 77
    assert reading.fields["steps"] == 4242


def test_flat_sensors_are_reported_as_devices_of_their_own(tmp_path: Path):

    door = "C2:00:00:00:00:D0"
    p = Pipeline(
        "gw-01",
        BTHomeDecoder({MAC: KEY, door: None}),
        Outbox(tmp_path / "o.db"),
        clock=Clock(),
        sensors={door},
    )
    payload = bthome.plain_service_data(bthome.encode_objects([(0x00, 1), (0x1A, 1)]))
    p.on_advert(Advert(door, -58, payload, 1.0))
    p.on_advert(advert_from(wristband()))
    assert p.flush_telemetry() == 2
    (entry,) = p.outbox.pending("telemetry")
    readings = {r.device: r for r in decode(entry.payload, TelemetryBatch).readings}
    assert readings[door].kind == "sensor"
    assert readings[door].fields == {"door": True}
    assert readings[MAC].kind == "wristband"


def test_device_state_and_counters_survive_a_restart(tmp_path: Path):

    p = pipeline(tmp_path)
    band = wristband(status_every=1, battery=64)
    captured = advert_from(band)
    p.on_advert(captured)
    store = DeviceStore(tmp_path / "gateway.db")
    store.save(p.decoder.counters, p.devices.values())
    store.close()

    store = DeviceStore(tmp_path / "gateway.db")
    restarted = Pipeline(
        "gw-01", BTHomeDecoder({MAC: KEY}, store.load_counters()), Outbox(tmp_path / "o2.db")
    )
    restarted.devices.update(store.load_states())
    assert restarted.devices[MAC].fields["battery"] == 64
    assert restarted.devices[MAC].last_seen == p.devices[MAC].last_seen
    restarted.on_advert(captured)  # replayed after the restart
    assert restarted.rejects["replay"] == 1


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_random_and_mutated_adverts_never_crash_the_pipeline_and_every_reject_is_counted(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
):

    p = pipeline(tmp_path_factory.mktemp("fuzz"))
    band = wristband()
    sent = 0
    for _ in range(data.draw(st.integers(1, 12))):
        choice = data.draw(st.sampled_from(["good", "mutated", "random", "stranger", "replay"]))
        good = advert_from(band)
        if choice == "good":
            advert = good
        elif choice == "mutated":
            raw = bytearray(good.payload)
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= data.draw(st.integers(1, 255))
            advert = Advert(MAC, -70, bytes(raw), 1.0)
        elif choice == "random":
            advert = Advert(MAC, -70, data.draw(st.binary(max_size=40)), 1.0)
        elif choice == "stranger":
            advert = Advert("C2:FF:FF:FF:FF:FF", -70, good.payload, 1.0)
        else:
            p.on_advert(good)
            sent += 1
            advert = good
        p.on_advert(advert)
        sent += 1
    assert p.accepted + sum(p.rejects.values()) == sent
    assert set(p.rejects) <= {
        "unknown_device",
        "malformed",
        "not_encrypted",
        "no_key",
        "replay",
        "wrong_key",
    }
