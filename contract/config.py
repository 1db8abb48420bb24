"""The gateway's desired configuration, published retained by the fleet on
``sg/v1/gw/{id}/config`` and reported back on ``config/reported``.

Secrets (wristband bind keys, caregivers' phone numbers for offline SMS) are sealed
to the gateway's own Curve25519 public key (libsodium sealed box, base64), made at
enrollment; the private key never leaves the gateway, so neither the broker's
persisted store nor its operator can read them.

Sections the edge validates further with its own models (``rules``, ``meters``) travel
as plain objects here, so the contract does not pin every threshold's type.
"""

from typing import Any

import msgspec

from contract.messages import SCHEMA_VERSION


class BandConfig(msgspec.Struct, frozen=True, kw_only=True):
    mac: str
    sealed_key: str  # base64 sealed box of the 16-byte BTHome bind key
    resident: str | None = None  # opaque resident id
    flat: str | None = None  # opaque flat id (links the band to the flat's meters)


class ResidentConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Per-resident schedules and thresholds; the rules' defaults fill anything absent."""

    resident: str
    flat: str | None = None
    settings: dict[str, Any] = {}  # active hours, inactivity span, medication doses ...
    sealed_contacts: str | None = None  # base64 sealed JSON list of phone numbers


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True):
    v: int = SCHEMA_VERSION
    gateway: str
    version: int  # increases with every change; the gateway reports what it applied
    bands: list[BandConfig] = []
    residents: list[ResidentConfig] = []
    rules: dict[str, Any] = {}  # gateway-wide rule thresholds
    meters: list[dict[str, Any]] = []  # meter declarations (port, protocol, address ...)


class ConfigReport(msgspec.Struct, frozen=True, kw_only=True):
    v: int = SCHEMA_VERSION
    gateway: str
    version: int  # the version now running
    ok: bool
    error: str = ""  # why a desired version was rejected
    rejected_version: int | None = None
