"""The Silverguard wristband profile: what bthome-ble's values mean on our band.

See docs/wristband-profile.md. A band sends two frames: the *status* frame (battery,
worn, steps, firmware) and the *motion* frame (moving, tilt, roll, peak acceleration,
and the event being repeated with its age in adverts).
"""

from dataclasses import dataclass
from enum import StrEnum

from edge.decode.bthome import Decoded

_G = 9.80665


class BandEventKind(StrEnum):
    LONG_PRESS = "long_press"  # SOS
    SHORT_PRESS = "press"  # cancel / medicine taken
    FALL_FLAG = "fall_flag"  # the band's own fall detector


@dataclass(frozen=True, slots=True)
class BandEvent:
    kind: BandEventKind
    origin_counter: int  # AES-CCM counter of the first advert that carried it


@dataclass(frozen=True, slots=True)
class WristbandFrame:
    address: str
    rssi: int
    time: float  # monotonic receive time
    counter: int
    battery: int | None = None
    steps: int | None = None
    worn: bool | None = None
    firmware: str | None = None
    moving: bool | None = None
    tilt_deg: float | None = None
    roll_deg: float | None = None
    peak_g: float | None = None
    event: BandEvent | None = None

    @property
    def is_status(self) -> bool:
        return self.battery is not None


def interpret(decoded: Decoded) -> WristbandFrame:
    values = decoded.values
    if "battery" in values:
        steps = values.get("count")
        worn = values.get("generic")
        return WristbandFrame(
            decoded.address,
            decoded.rssi,
            decoded.time,
            decoded.counter,
            battery=int(values["battery"]),
            steps=int(steps) if steps is not None else None,
            worn=bool(worn) if worn is not None else None,
            firmware=decoded.firmware,
        )
    event: BandEvent | None = None
    age = int(values.get("count", 0))
    button = decoded.events.get("button")
    if button in (BandEventKind.LONG_PRESS, BandEventKind.SHORT_PRESS):
        event = BandEvent(BandEventKind(button), decoded.counter - age)
    elif values.get("problem"):
        event = BandEvent(BandEventKind.FALL_FLAG, decoded.counter - age)
    acceleration = values.get("acceleration")
    moving = values.get("moving")
    # Two rotation objects arrive as rotation_1 (tilt) and rotation_2 (roll); a band
    # that sends only the tilt gives "rotation".
    tilt = values.get("rotation_1", values.get("rotation"))
    roll = values.get("rotation_2")
    return WristbandFrame(
        decoded.address,
        decoded.rssi,
        decoded.time,
        decoded.counter,
        moving=bool(moving) if moving is not None else None,
        tilt_deg=float(tilt) if tilt is not None else None,
        roll_deg=float(roll) if roll is not None else None,
        peak_g=float(acceleration) / _G if acceleration is not None else None,
        event=event,
    )
