"""A BTHome v2 encoder (the band-firmware side of the format bthome-ble decodes).

Layout of the service data under UUID 0xFCD2 (https://bthome.io/format/):

    adv_info (1) | ciphertext (n) | counter (4, LE) | MIC (4)

``adv_info`` 0x41 = BTHome version 2 (bits 5-7) + encrypted (bit 0). The AES-CCM nonce
is ``MAC (6) | UUID16 LE (d2 fc) | adv_info | counter``; the MIC is 4 bytes; no AAD.
Objects must be sorted by object id (the spec requires it; bthome-ble tolerates both).
"""

import struct
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

BTHOME_UUID16 = 0xFCD2
ADV_INFO_ENCRYPTED_V2 = 0x41
ADV_INFO_PLAIN_V2 = 0x40

# Object ids used by the Silverguard wristband profile (docs/wristband-profile.md)
# and the flat's other BTHome sensors. Each entry: object id -> struct format.
OBJECT_FORMATS: dict[int, str] = {
    0x00: "<B",  # packet id
    0x01: "<B",  # battery %
    0x02: "<h",  # temperature 0.01 °C
    0x09: "<B",  # count (uint8): event age in adverts
    0x0F: "<B",  # generic boolean: worn
    0x1A: "<B",  # door open
    0x21: "<B",  # motion detected
    0x22: "<B",  # moving
    0x26: "<B",  # problem: on-device fall flag
    0x2E: "<B",  # humidity %
    0x3A: "<B",  # button event
    0x3E: "<I",  # count (uint32): steps
    0x3F: "<h",  # rotation 0.1°: forearm tilt, then wrist roll
    0x51: "<H",  # acceleration 0.001 m/s²: peak over the last interval
}
FIRMWARE_VERSION_3 = 0xF2


class EncodeError(ValueError):
    pass


def encode_objects(objects: Iterable[tuple[int, int]]) -> bytes:
    """Serialise (object id, raw integer value) pairs, sorted by object id."""
    out = bytearray()
    for object_id, value in sorted(objects, key=lambda item: item[0]):
        if object_id == FIRMWARE_VERSION_3:
            out += bytes([object_id]) + value.to_bytes(3, "little")
            continue
        fmt = OBJECT_FORMATS.get(object_id)
        if fmt is None:
            raise EncodeError(f"object id 0x{object_id:02x} is not in the encoder's table")
        try:
            out += bytes([object_id]) + struct.pack(fmt, value)
        except struct.error as exc:
            raise EncodeError(f"object 0x{object_id:02x} value {value}: {exc}") from None
    return bytes(out)


def mac_bytes(mac: str) -> bytes:
    raw = bytes.fromhex(mac.replace(":", ""))
    if len(raw) != 6:
        raise EncodeError(f"MAC {mac!r} is not 6 bytes")
    return raw


def encrypt_service_data(mac: str, key: bytes, counter: int, plaintext: bytes) -> bytes:
    """Encrypt one BTHome v2 payload (the value of service data 0xFCD2)."""
    if len(key) != 16:
        raise EncodeError("a BTHome bind key is 16 bytes")
    counter_bytes = struct.pack("<I", counter & 0xFFFFFFFF)
    nonce = (
        mac_bytes(mac)
        + struct.pack("<H", BTHOME_UUID16)
        + bytes([ADV_INFO_ENCRYPTED_V2])
        + counter_bytes
    )
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, plaintext, None)
    ciphertext, mic = sealed[:-4], sealed[-4:]
    return bytes([ADV_INFO_ENCRYPTED_V2]) + ciphertext + counter_bytes + mic


def plain_service_data(plaintext: bytes) -> bytes:
    return bytes([ADV_INFO_PLAIN_V2]) + plaintext


def advertising_payload(service_data: bytes) -> bytes:
    """The legacy advertising PDU payload (max 31 bytes): Flags AD + Service Data AD."""
    flags = bytes([0x02, 0x01, 0x06])  # LE General Discoverable, BR/EDR not supported
    body = struct.pack("<H", BTHOME_UUID16) + service_data
    ad = flags + bytes([len(body) + 1, 0x16]) + body
    if len(ad) > 31:
        raise EncodeError(f"advert is {len(ad)} bytes; legacy advertising carries 31")
    return ad
