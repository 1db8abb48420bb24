"""Deterministic event ids.

Several gateways hear the same wristband, and a gateway redelivers an event until
the fleet acknowledges it. Both must fold into one alert, so the id is derived from
what every gateway sees identically — the device, the kind of event and a key fixed
by the device itself (for wristband events: the AES-CCM counter of the advert that
first carried the event, which a band never reuses under one key) — never from
gateway-local state such as its clock or a random number.
"""

import re
import uuid

# A fixed namespace: changing it would change every id and break dedup across versions.
_NAMESPACE = uuid.UUID("5b0f3b0e-7c55-4d2e-9a43-3f2b9f1d6a10")


def event_id(device: str, kind: str, key: str | int) -> str:
    """Return the globally unique, deterministic id of one incident on one device."""
    return str(uuid.uuid5(_NAMESPACE, f"{device.upper()}|{kind}|{key}"))


# -- identifiers every side parses the same way ---------------------------------------

MAC_RE = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
# Opaque ids of residents, flats, meters, communities ...: never a name.
OPAQUE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


def normalise_mac(text: str) -> str:
    """A BLE MAC in the one form used everywhere: upper case, colons."""
    mac = text.strip().upper().replace("-", ":")
    if not MAC_RE.match(mac):
        raise ValueError("not a MAC address like AA:BB:CC:DD:EE:FF")
    return mac


def parse_bind_key(text: str) -> bytes:
    """A BTHome bind key: 32 hexadecimal characters. The error never quotes the value."""
    value = text.strip()
    if not re.fullmatch(r"[0-9a-fA-F]{32}", value):
        raise ValueError("a bind key is 32 hexadecimal characters (16 bytes)")
    key = bytes.fromhex(value)
    if len(set(key)) == 1:
        # All zeros or all 0xFF: an unprogrammed band, not a key.
        raise ValueError("this bind key is a blank pattern, not the band's key")
    return key
