"""A desired gateway config built without a fleet: for tests of the gateway's side of
the push (a version the fleet would never send, a broken part, contacts for the offline
SMS). Secrets are sealed to the gateway's public key with the contract's own sealing, as
``fleet/registry/config_push.py`` does; the contract test
(tests/contract/test_config_seam.py) holds the fleet's real builder to the gateway."""

import json
from typing import Any

from contract.config import BandConfig, GatewayConfig, ResidentConfig
from contract.sealing import seal


def desired_config(
    gateway_id: str,
    version: int,
    public_key: str,
    band_keys: dict[str, bytes],
    *,
    contacts: dict[str, list[str]] | None = None,
    **fields: Any,
) -> GatewayConfig:
    """Every band's key (and caregivers' numbers) sealed to ``public_key``. Band i
    belongs to resident r-i (numbered from 1, in the order given)."""
    bands = []
    residents = []
    for i, (mac, key) in enumerate(band_keys.items(), start=1):
        resident = f"r-{i:05d}"
        bands.append(BandConfig(mac=mac, sealed_key=seal(public_key, key), resident=resident))
        numbers = (contacts or {}).get(mac)
        residents.append(
            ResidentConfig(
                resident=resident,
                sealed_contacts=seal(public_key, json.dumps(numbers).encode()) if numbers else None,
            )
        )
    return GatewayConfig(
        gateway=gateway_id, version=version, bands=bands, residents=residents, **fields
    )
