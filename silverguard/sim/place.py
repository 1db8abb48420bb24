"""The small place the Stack's tests and benchmarks live in, registered through the
fleet's API: one town, one community covered by every gateway of the stack, and one
resident with a caregiver per simulated band. (The district simulation loads its 867
residents by bulk CSV import instead: silverguard/sim/district.py.)"""

import httpx

from firmware_mocks.population import Population

TOWN_ID = "t-demo"
COMMUNITY_ID = "c-xingfu"


async def _post(api: httpx.AsyncClient, path: str, body: dict[str, object], ok: set[int]) -> None:
    response = await api.post(path, json=body)
    if response.status_code not in ok:
        raise RuntimeError(f"registering {path} failed: {response.status_code} {response.text}")


async def ensure_place(api: httpx.AsyncClient, gateway_ids: list[str]) -> None:
    """The town and community, and the gateways registered as covering it: the fleet
    takes a gateway's events and readings only for the communities it covers."""
    await _post(api, "/api/v1/towns", {"id": TOWN_ID, "name": "演示街道 Demo town"}, {201, 409})
    await _post(
        api,
        "/api/v1/communities",
        {"id": COMMUNITY_ID, "town_id": TOWN_ID, "name": "幸福社区 Xingfu"},
        {201, 409},
    )
    for gateway_id in gateway_ids:
        await _post(
            api, "/api/v1/gateways", {"id": gateway_id, "communities": [COMMUNITY_ID]}, {201, 409}
        )


async def register_population(
    api: httpx.AsyncClient,
    population: Population,
    caregiver_channels: dict[str, list[str]] | None = None,
    *,
    locale: str = "zh-CN",
) -> None:
    """One resident and one caregiver per band (r-00001, c-00001 …), one call each."""
    for i, sim in enumerate(population.bands, start=1):
        mac = sim.band.mac
        caregiver_id = f"c-{i:05d}"
        resident_id = f"r-{i:05d}"
        await _post(
            api,
            "/api/v1/caregivers",
            {
                "id": caregiver_id,
                "display_name": f"照护人{i}",
                "locale": locale,
                "channels": (caregiver_channels or {}).get(mac, []),
            },
            {201},
        )
        await _post(
            api,
            "/api/v1/residents",
            {
                "id": resident_id,
                "display_name": f"居民{i}",
                "address": f"幸福社区{(i - 1) // 12 + 1}号楼{i}室",
                "community_id": COMMUNITY_ID,
                "caregivers": [caregiver_id],
            },
            {201},
        )
        await _post(
            api,
            "/api/v1/wristbands",
            {"mac": mac, "bind_key": sim.band.bind_key.hex(), "resident_id": resident_id},
            {201},
        )
