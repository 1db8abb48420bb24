"""Decoding encrypted BTHome v2 adverts with bthome-ble, plus our own replay check.

bthome-ble parses the BTHome objects (its tables of object ids, sizes and factors);
for our bands we do the AES-CCM step ourselves, see ``decode``. Replay protection is
ours: bthome-ble accepts any counter below 100 as a device reset, which lets a
captured early advert be replayed after a gateway restart, so we keep the last
accepted AES-CCM counter per device (persisted by the caller) and refuse anything at
or below it.
"""

import logging
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bthome_ble import BTHomeBluetoothDeviceData
from bthome_ble.parser import BTHomeVersion
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from habluetooth import BluetoothServiceInfoBleak

from edge.ble.advert import BTHOME_UUID, Advert

# bthome-ble logs a WARNING for every advert it cannot decrypt; a neighbour's devices
# or an attacker would flood the journal. We count rejects instead.
logging.getLogger("bthome_ble.parser").setLevel(logging.ERROR)

_ADV_INFO_ENCRYPTED = 0x01
_ADV_INFO_MAC_INCLUDED = 0x02
_ADV_INFO_VERSION_MASK = 0xE0
_BTHOME_V2 = 0x40
# adv_info (1) + at least one object (2) + counter (4) + MIC (4)
_MIN_ENCRYPTED_LEN = 11


class Reject(StrEnum):
    UNKNOWN_DEVICE = "unknown_device"  # a MAC this gateway was not configured for
    MALFORMED = "malformed"  # not BTHome v2, truncated, or no values
    NOT_ENCRYPTED = "not_encrypted"  # plaintext from a device we hold a key for
    NO_KEY = "no_key"  # encrypted advert from a device registered without a key
    REPLAY = "replay"  # counter at or below the last accepted one
    WRONG_KEY = "wrong_key"  # MIC did not verify


@dataclass(frozen=True, slots=True)
class Decoded:
    """Values of one accepted advert, keyed by bthome-ble's names."""

    address: str
    rssi: int
    time: float
    counter: int
    values: dict[str, Any]
    events: dict[str, str] = field(default_factory=dict)  # e.g. {"button": "long_press"}
    firmware: str | None = None


def _firmware(parser: BTHomeBluetoothDeviceData) -> str | None:
    info = parser._device_id_info.get(None)
    return getattr(info, "sw_version", None)


class _Device:
    __slots__ = ("cipher", "nonce_prefix", "parser")

    def __init__(self, address: str, key: bytes | None) -> None:
        self.parser = BTHomeBluetoothDeviceData(bindkey=key)
        # The fast path parses payloads directly, so tell the parser what it would
        # have learnt from the advert's header.
        self.parser.bthome_version = BTHomeVersion.V2
        self.cipher = AESCCM(key, tag_length=4) if key is not None else None
        self.nonce_prefix = bytes.fromhex(address.replace(":", "")) + b"\xd2\xfc"


class BTHomeDecoder:
    """Decodes adverts of the devices it was given.

    ``keys`` maps each known MAC to its bind key, or to ``None`` for a device that
    advertises in plaintext (many door and temperature sensors do). Plaintext devices
    get no replay protection beyond bthome-ble's packet-id check, so nothing they
    report raises an alert on its own.
    """

    def __init__(
        self, keys: Mapping[str, bytes | None], counters: Mapping[str, int] | None = None
    ) -> None:
        self._devices: dict[str, _Device] = {}
        self._keys: dict[str, bytes | None] = {}
        self.counters: dict[str, int] = dict(counters or {})
        self.set_keys(keys)

    def set_keys(self, keys: Mapping[str, bytes | None]) -> None:
        """Replace the known devices and keys (a new config from the fleet), keeping counters."""
        for mac in list(self._devices):
            if keys.get(mac) != self._keys.get(mac):
                del self._devices[mac]
        self._keys = dict(keys)

    def known(self) -> Iterable[str]:
        return self._keys.keys()

    def decode(self, advert: Advert) -> Decoded | Reject:
        payload = advert.payload
        address = advert.address
        if address not in self._keys:
            return Reject.UNKNOWN_DEVICE
        key = self._keys[address]
        if len(payload) < 3 or payload[0] & _ADV_INFO_VERSION_MASK != _BTHOME_V2:
            return Reject.MALFORMED
        encrypted = payload[0] & _ADV_INFO_ENCRYPTED
        if key is None:
            if encrypted:
                return Reject.NO_KEY
            counter = 0
        else:
            if not encrypted:
                return Reject.NOT_ENCRYPTED
            if len(payload) < _MIN_ENCRYPTED_LEN:
                return Reject.MALFORMED
            # The counter travels in clear before the MIC; check it before paying for AES.
            counter = struct.unpack_from("<I", payload, len(payload) - 8)[0]
            if counter <= self.counters.get(address, -1):
                return Reject.REPLAY

        device = self._devices.get(address)
        if device is None:
            device = self._devices[address] = _Device(address, key)
        parser = device.parser
        # We read the values bthome-ble produced for this advert alone: its public
        # update() keeps values of earlier adverts too (our two frames carry different
        # objects) and Home Assistant's entity state, which a gateway never uses.
        sensor_values = parser._sensor_values_updates
        binary_values = parser._binary_sensor_values_updates
        event_values = parser._events_updates
        sensor_values.clear()
        binary_values.clear()
        event_values.clear()
        if device.cipher is not None and not payload[0] & _ADV_INFO_MAC_INCLUDED:
            # The fast path, for every Silverguard band: AES-CCM with the BTHome v2 nonce
            # (spec: MAC | UUID16 | adv_info | counter; 4-byte MIC; no AAD), then
            # bthome-ble's object parser. bthome-ble's own framing around the same
            # AES call costs 15 µs an advert in Python, a third of its parse; on a Pi
            # hearing 867 bands that is the difference between fitting our CPU budget
            # or not. Golden-vector and round-trip tests hold the two paths together.
            try:
                plaintext = device.cipher.decrypt(
                    device.nonce_prefix + payload[0:1] + payload[-8:-4],
                    payload[1:-8] + payload[-4:],
                    None,
                )
            except InvalidTag:
                return Reject.WRONG_KEY
            parser._parse_payload(plaintext, advert.time)
        else:
            # Plaintext sensors and rarer layouts: bthome-ble's complete path.
            parser._start_update(
                BluetoothServiceInfoBleak(
                    address,
                    address,
                    advert.rssi,
                    {},
                    {BTHOME_UUID: payload},
                    [BTHOME_UUID],
                    "local",
                    None,  # type: ignore[arg-type]  # bthome-ble never touches the BLEDevice
                    None,
                    False,
                    advert.time,
                    None,
                )
            )
            if key is not None and parser.decryption_failed:
                return Reject.WRONG_KEY
        values: dict[str, Any] = {dkey.key: v.native_value for dkey, v in sensor_values.items()}
        for dkey, bvalue in binary_values.items():
            values[dkey.key] = bvalue.native_value
        events = {dkey.key: event.event_type for dkey, event in event_values.items()}
        if not values and not events:
            return Reject.MALFORMED
        if key is not None:
            self.counters[address] = counter
        return Decoded(
            address=address,
            rssi=advert.rssi,
            time=advert.time,
            counter=counter,
            values=values,
            events=events,
            firmware=_firmware(parser) if "battery" in values else None,
        )
