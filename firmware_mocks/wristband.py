"""The Silverguard wristband's advertising firmware, simulated.

What it sends is specified in docs/wristband-profile.md. In short: one encrypted
BTHome v2 advert per interval, either a *motion frame* (motion summary, and the
event being repeated, if any) or, every ``status_every`` adverts when no event is
pending, a *status frame* (battery, worn, steps, firmware version). Legacy
advertising leaves 15 bytes of plaintext per advert, hence the two frames.

Events (button presses, the on-device fall flag) are repeated in ``repeats``
consecutive motion frames so that one lost advert loses no event. Each copy carries
its *age* — adverts since the first copy — so every gateway computes the same
origin counter (``counter - age``) and thus the same event id.
"""

from dataclasses import dataclass, field
from enum import IntEnum

from firmware_mocks import bthome


class Button(IntEnum):
    """BTHome button event codes as the band uses them."""

    SHORT = 0x01  # "press": cancel a fall alarm, or "medicine taken"
    LONG = 0x04  # "long_press": SOS


_OBJ_AGE = 0x09
_OBJ_FALL_FLAG = 0x26
_OBJ_BUTTON = 0x3A
_MAX_AGE = 255  # the age travels as a uint8


@dataclass(frozen=True, slots=True)
class MotionSummary:
    """What the band's firmware condenses from its accelerometer per advert interval."""

    peak_g: float = 1.0  # largest acceleration magnitude in the interval, in g
    tilt_deg: float = 0.0  # forearm angle to the horizontal, -90 (hanging) .. 90 (raised)
    moving: bool = False
    roll_deg: float = 0.0  # wrist turned about the forearm, 0 face up .. +-180 face down


def merge_summaries(earlier: MotionSummary | None, later: MotionSummary) -> MotionSummary:
    """One summary for two consecutive intervals: the larger peak, the later posture."""
    if earlier is None:
        return later
    return MotionSummary(
        peak_g=max(earlier.peak_g, later.peak_g),
        tilt_deg=later.tilt_deg,
        moving=earlier.moving or later.moving,
        roll_deg=later.roll_deg,
    )


@dataclass(slots=True)
class _Pending:
    object_id: int
    value: int
    origin: int | None = None  # AES-CCM counter of the first advert that carried it
    sends_left: int = 0


@dataclass
class Wristband:
    mac: str
    bind_key: bytes
    counter: int = 1  # AES-CCM counter: +1 per advert, kept across reboots by the firmware
    battery: int = 100
    steps: int = 0
    worn: bool = True
    firmware: tuple[int, int, int] = (1, 0, 0)
    repeats: int = 5
    status_every: int = 10
    _pending: list[_Pending] = field(default_factory=list)
    _since_status: int = 0
    _carry: MotionSummary | None = None  # the summary a status frame displaced

    def press(self, button: Button) -> None:
        self._pending.append(_Pending(_OBJ_BUTTON, int(button), sends_left=self.repeats))

    def flag_fall(self) -> None:
        """The band's own fall detector fired."""
        self._pending.append(_Pending(_OBJ_FALL_FLAG, 1, sends_left=self.repeats))

    @property
    def has_pending_events(self) -> bool:
        return bool(self._pending)

    def next_service_data(self, motion: MotionSummary | None = None) -> bytes:
        """Build the next advert's BTHome service data and advance the counters."""
        self.counter += 1
        self._since_status += 1
        # No packet id (0x00): the AES-CCM counter already orders adverts and the gateway
        # refuses repeats by it, and the motion frame needs the two bytes for the roll.
        if not self._pending and self._since_status >= self.status_every:
            self._since_status = 0
            objects = self._status_objects()
            if motion is not None:
                # The interval's summary rides on the next motion frame, so no impact
                # falls into the status slot unseen.
                self._carry = merge_summaries(self._carry, motion)
        else:
            motion = merge_summaries(self._carry, motion or MotionSummary())
            self._carry = None
            objects = self._motion_objects(motion)
        plaintext = bthome.encode_objects(objects)
        return bthome.encrypt_service_data(self.mac, self.bind_key, self.counter, plaintext)

    def next_advert(self, motion: MotionSummary | None = None) -> bytes:
        """The full 31-byte-max advertising payload (AD structures) for the radio."""
        return bthome.advertising_payload(self.next_service_data(motion))

    def _status_objects(self) -> list[tuple[int, int]]:
        major, minor, patch = self.firmware
        return [
            (0x01, max(0, min(100, self.battery))),
            (0x0F, int(self.worn)),
            (0x3E, self.steps & 0xFFFFFFFF),
            (bthome.FIRMWARE_VERSION_3, patch | minor << 8 | major << 16),
        ]

    def _motion_objects(self, motion: MotionSummary) -> list[tuple[int, int]]:
        peak_mps2 = motion.peak_g * 9.80665
        roll = (motion.roll_deg + 180.0) % 360.0 - 180.0
        objects = [
            (0x22, int(motion.moving)),
            # Two rotation objects: bthome-ble names them rotation_1 (tilt) and
            # rotation_2 (roll), in this order. Together they give the gravity direction
            # in the band, so the gateway can tell any change of posture.
            (0x3F, round(max(-90.0, min(90.0, motion.tilt_deg)) * 10)),
            (0x3F, round(roll * 10)),
            # uint16 in mm/s² saturates at 65.535 m/s² (6.68 g); impacts that matter
            # for fall detection are 2-4 g, and wrist sensors clip near there anyway.
            (0x51, min(65535, round(peak_mps2 * 1000))),
        ]
        event = self._take_event()
        if event is not None:
            objects += event
        return objects

    def _take_event(self) -> list[tuple[int, int]] | None:
        # Drop events whose age no longer fits the uint8 age field.
        self._pending = [
            p
            for p in self._pending
            if p.sends_left > 0 and (p.origin is None or self.counter - p.origin <= _MAX_AGE)
        ]
        if not self._pending:
            return None
        # The event with the most copies still to send goes first: a new event is sent
        # at once, older ones interleave after it.
        pending = max(self._pending, key=lambda p: (p.sends_left, -(p.origin or self.counter)))
        if pending.origin is None:
            pending.origin = self.counter
        pending.sends_left -= 1
        return [(pending.object_id, pending.value), (_OBJ_AGE, self.counter - pending.origin)]
