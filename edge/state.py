"""What the gateway knows about each device it hears."""

from dataclasses import dataclass, field
from typing import Any

from contract import FieldValue
from contract.messages import ReadingKind
from edge.decode.profile import WristbandFrame


@dataclass(slots=True)
class DeviceState:
    address: str
    kind: ReadingKind = ReadingKind.WRISTBAND  # or SENSOR
    last_seen: float = 0.0  # wall clock
    rssi: int = 0
    adverts: int = 0
    fields: dict[str, FieldValue] = field(default_factory=dict)
    dirty: bool = False  # changed since the last telemetry batch

    def update(self, frame: WristbandFrame, now: float) -> None:
        was_dirty = self.dirty
        self.last_seen = now
        self.rssi = frame.rssi
        self.adverts += 1
        self.dirty = True
        f = self.fields
        if frame.is_status:
            f["battery"] = frame.battery  # type: ignore[assignment]
            if frame.steps is not None:
                f["steps"] = frame.steps
            if frame.worn is not None:
                f["worn"] = frame.worn
            if frame.firmware is not None:
                f["firmware"] = frame.firmware
        else:
            if frame.moving is not None:
                f["moving"] = frame.moving
            if frame.tilt_deg is not None:
                f["tilt_deg"] = frame.tilt_deg
            if frame.roll_deg is not None:
                f["roll_deg"] = frame.roll_deg
            if frame.peak_g is not None:
                # The largest peak since the last batch, so no impact hides between batches.
                peak = round(frame.peak_g, 3)
                f["peak_g"] = max(peak, float(f.get("peak_g", 0.0))) if was_dirty else peak

    def update_values(self, values: dict[str, Any], rssi: int, now: float) -> None:
        """A sensor's values as bthome-ble names them (door, motion, temperature ...)."""
        self.last_seen = now
        self.rssi = rssi
        self.adverts += 1
        self.dirty = True
        for name, value in values.items():
            if name != "packet_id" and isinstance(value, bool | int | float | str):
                self.fields[name] = value
