"""Deterministic event ids.

Several gateways hear the same wristband, and a gateway redelivers an event until
the fleet acknowledges it. Both must fold into one alert, so the id is derived from
what every gateway sees identically — the device, the kind of event and a key fixed
by the device itself (for wristband events: the AES-CCM counter of the advert that
first carried the event, which a band never reuses under one key) — never from
gateway-local state such as its clock or a random number.
"""

import uuid

# A fixed namespace: changing it would change every id and break dedup across versions.
_NAMESPACE = uuid.UUID("5b0f3b0e-7c55-4d2e-9a43-3f2b9f1d6a10")


def event_id(device: str, kind: str, key: str | int) -> str:
    """Return the globally unique, deterministic id of one incident on one device."""
    return str(uuid.uuid5(_NAMESPACE, f"{device.upper()}|{kind}|{key}"))
