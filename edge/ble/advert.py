"""The gateway's own view of one received advert (no bleak types past the scanner)."""

from dataclasses import dataclass

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"


@dataclass(frozen=True, slots=True)
class Advert:
    address: str  # upper-case MAC
    rssi: int
    payload: bytes  # BTHome service data (UUID 0xFCD2)
    time: float  # monotonic seconds, when the radio delivered it
