import time

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.ble.advert import Advert
from edge.decode.bthome import BTHomeDecoder, Decoded, Reject
from firmware_mocks import bthome
from tests.factories import KEY, MAC, advert_from, wristband


def test_accepts_the_bands_adverts_in_order():
    band = wristband()
    decoder = BTHomeDecoder({MAC: KEY})
    results = [decoder.decode(advert_from(band)) for _ in range(5)]
    assert all(isinstance(r, Decoded) for r in results)
    assert decoder.counters[MAC] == band.counter


def test_wrong_key_is_rejected():
    decoder = BTHomeDecoder({MAC: bytes(16)})
    assert decoder.decode(advert_from(wristband())) is Reject.WRONG_KEY
    assert MAC not in decoder.counters


def test_replayed_advert_is_rejected_even_after_a_counter_reset_attempt():
    band = wristband(counter=5)
    decoder = BTHomeDecoder({MAC: KEY})
    early = advert_from(band)  # counter 6: below bthome-ble's "device reset" threshold of 100
    band.counter = 2000
    later = advert_from(band)
    assert isinstance(decoder.decode(later), Decoded)
    assert decoder.decode(later) is Reject.REPLAY
    # bthome-ble alone would accept counter 6 as a reset; we refuse it.
    assert decoder.decode(early) is Reject.REPLAY


def test_counters_carry_over_a_restart():
    band = wristband()
    first = BTHomeDecoder({MAC: KEY})
    captured = advert_from(band)
    assert isinstance(first.decode(captured), Decoded)
    restarted = BTHomeDecoder({MAC: KEY}, counters=first.counters)
    assert restarted.decode(captured) is Reject.REPLAY


def test_unknown_band_and_plaintext_downgrade_are_rejected():
    decoder = BTHomeDecoder({MAC: KEY})
    stranger = wristband(mac="C2:00:00:00:00:99")
    assert decoder.decode(advert_from(stranger)) is Reject.UNKNOWN_DEVICE
    plain = bthome.plain_service_data(bthome.encode_objects([(0x00, 1), (0x01, 50)]))
    assert decoder.decode(Advert(MAC, -50, plain, time.monotonic())) is Reject.NOT_ENCRYPTED


@settings(max_examples=300)
@given(payload=st.binary(max_size=40))
def test_random_bytes_never_crash_and_are_rejected_with_a_reason(payload: bytes):
    decoder = BTHomeDecoder({MAC: KEY})
    result = decoder.decode(Advert(MAC, -70, payload, 1.0))
    assert isinstance(result, Reject)


@settings(max_examples=300)
@given(data=st.data())
def test_a_flipped_byte_in_a_real_advert_is_rejected(data: st.DataObject):
    good = advert_from(wristband())
    index = data.draw(st.integers(0, len(good.payload) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = bytearray(good.payload)
    mutated[index] ^= flip
    decoder = BTHomeDecoder({MAC: KEY})
    result = decoder.decode(Advert(MAC, -70, bytes(mutated), 1.0))
    assert isinstance(result, Reject)


def test_a_registered_plaintext_sensor_decodes_and_an_encrypted_one_without_key_does_not():
    door = "C2:00:00:00:00:D0"
    decoder = BTHomeDecoder({door: None})
    plain = bthome.plain_service_data(bthome.encode_objects([(0x00, 7), (0x1A, 1), (0x02, 2150)]))
    result = decoder.decode(Advert(door, -55, plain, 1.0))
    assert isinstance(result, Decoded)
    assert result.values["door"] is True
    assert result.values["temperature"] == 21.5
    encrypted = advert_from(wristband(mac=door))
    assert decoder.decode(encrypted) is Reject.NO_KEY
