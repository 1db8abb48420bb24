"""Test data builders: defaults plus ``**overrides``."""

import time
from typing import Any

from contract import Event, EventKind, Severity, event_id
from edge.ble.advert import Advert
from edge.decode.profile import BandEvent, BandEventKind, WristbandFrame
from firmware_mocks.bleak_backend import parse_ad_structures
from firmware_mocks.wristband import MotionSummary, Wristband

MAC = "C2:00:00:00:00:01"
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def wristband(**overrides: Any) -> Wristband:
    values: dict[str, Any] = {"mac": MAC, "bind_key": KEY, "counter": 1000, "battery": 80}
    values.update(overrides)
    return Wristband(**values)


def advert_from(
    band: Wristband, motion: MotionSummary | None = None, rssi: int = -60, at: float | None = None
) -> Advert:
    """The next advert of ``band`` as the gateway's scanner would hand it on."""
    _, service_data = parse_ad_structures(band.next_advert(motion))
    (payload,) = service_data.values()
    return Advert(band.mac, rssi, payload, at if at is not None else time.monotonic())


def event(**overrides: Any) -> Event:
    """An SOS from gw-01 (its id built from device, kind and key unless given)."""
    values: dict[str, Any] = {
        "kind": EventKind.SOS,
        "severity": Severity.CRITICAL,
        "device": MAC,
        "key": "1001",
        "gateway": "gw-01",
        "occurred_at": 1_790_000_000.0,
        "detected_at": 1_790_000_000.5,
    }
    values.update(overrides)
    values.setdefault("id", event_id(values["device"], values["kind"], values["key"]))
    return Event(**values)


def motion_frame(counter: int, **overrides: Any) -> WristbandFrame:
    """A decoded motion frame: still, forearm flat, face up, unless overridden."""
    values: dict[str, Any] = {
        "address": MAC,
        "rssi": -60,
        "time": 0.0,
        "counter": counter,
        "moving": False,
        "tilt_deg": 0.0,
        "roll_deg": 0.0,
        "peak_g": 1.0,
    }
    values.update(overrides)
    return WristbandFrame(**values)


def status_frame(counter: int, **overrides: Any) -> WristbandFrame:
    values: dict[str, Any] = {
        "address": MAC,
        "rssi": -60,
        "time": 0.0,
        "counter": counter,
        "battery": 80,
        "steps": 0,
        "worn": True,
        "firmware": "1.0.0",
    }
    values.update(overrides)
    return WristbandFrame(**values)


def event_frame(
    counter: int, kind: BandEventKind, age: int = 0, **overrides: Any
) -> WristbandFrame:
    """A motion frame carrying a band event whose first copy went out ``age`` adverts ago."""
    return motion_frame(counter, event=BandEvent(kind, counter - age), **overrides)
