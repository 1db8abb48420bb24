import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.decode.bthome import BTHomeDecoder, Decoded
from firmware_mocks import bthome
from firmware_mocks.wristband import Button, MotionSummary
from tests.factories import KEY, MAC, advert_from, wristband


def test_encrypts_the_bthome_spec_example():
    # The worked example of https://bthome.io/encryption/ (temperature 25.06 °C,
    # humidity 50.55 %, counter 0x33221100).
    out = bthome.encrypt_service_data(
        "54:48:E6:8F:80:A5",
        bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932"),
        0x33221100,
        bytes.fromhex("02ca0903bf13"),
    )
    assert out.hex() == "41a47266c95f730011223378237214"


def test_every_frame_fits_a_legacy_advert():
    band = wristband(steps=2**32 - 1)
    band.press(Button.LONG)
    band.flag_fall()
    sizes = {
        len(band.next_advert(MotionSummary(peak_g=6.9, tilt_deg=-90, moving=True)))
        for _ in range(30)
    }
    assert max(sizes) <= 31


def test_refuses_a_payload_longer_than_a_legacy_advert():
    with pytest.raises(bthome.EncodeError, match="31"):
        bthome.advertising_payload(bytes(30))


@given(
    battery=st.integers(0, 100),
    steps=st.integers(0, 2**32 - 1),
    worn=st.booleans(),
)
def test_status_frame_round_trips_through_bthome_ble(battery: int, steps: int, worn: bool):
    band = wristband(battery=battery, steps=steps, worn=worn, status_every=1)
    decoder = BTHomeDecoder({MAC: KEY})
    result = decoder.decode(advert_from(band))
    assert isinstance(result, Decoded)
    assert result.values["battery"] == battery
    assert result.values["count"] == steps
    assert result.values["generic"] is worn


@given(
    peak=st.floats(0.0, 6.6),
    tilt=st.floats(-90.0, 90.0),
    moving=st.booleans(),
)
def test_motion_frame_round_trips_through_bthome_ble(peak: float, tilt: float, moving: bool):
    band = wristband()
    decoder = BTHomeDecoder({MAC: KEY})
    result = decoder.decode(
        advert_from(band, MotionSummary(peak_g=peak, tilt_deg=tilt, moving=moving))
    )
    assert isinstance(result, Decoded)
    assert result.values["acceleration"] == pytest.approx(peak * 9.80665, abs=0.001)
    assert result.values["rotation"] == pytest.approx(tilt, abs=0.0501)  # 0.1° steps
    assert result.values["moving"] is moving
