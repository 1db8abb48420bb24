"""A community set up for escalation through the fleet's API, and a gateway's MQTT
client to raise events with — for the alerting end-to-end tests and the benchmark."""

import re
from dataclasses import dataclass
from typing import Any

import aiomqtt
import httpx

from contract import Event, EventKind, Severity, Topic, TopicKind, encode
from silverguard.sim.receiver import Received
from silverguard.sim.stack import Stack

COMMUNITY = "c-xingfu"
ACK_LINK = re.compile(r"(http://\S+/ack/(v1\.(\d+)\.([a-z0-9-]+)\.\d+\.[A-Za-z0-9_-]{22}))")


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    token: str
    alert_id: int
    contact: str


def link_in(notification: Received) -> Link:
    match = ACK_LINK.search(notification.body["message"])
    assert match is not None, notification.body["message"]
    return Link(match[1], match[2], int(match[3]), match[4])


def band_mac(i: int) -> str:
    return f"C2:00:00:00:{i // 256:02X}:{i % 256:02X}"


async def ok(response: Any, *codes: int) -> Any:
    response = await response
    assert response.status_code in (codes or (200, 201)), (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    return response.json()


async def build(
    stack: Stack,
    *,
    residents: int,
    family: list[list[str]] | list[str],
    worker: list[str],
    duty: list[str],
    policy: dict[str, Any] | None,
    api: httpx.AsyncClient | None = None,
) -> list[str]:
    """Residents r-1..r-N in one grid, each with a family contact; a grid worker and a
    duty line. ``family``: one channel list for all, or one per resident. Returns the
    band MACs."""
    api = api or stack.api
    assert api is not None
    assert stack.community_id == COMMUNITY
    await stack.ensure_place()  # the town, the community and the gateways covering it
    await ok(
        api.post(
            "/api/v1/caregivers",
            json={
                "id": "c-grid",
                "display_name": "网格员小李",
                "kind": "grid_worker",
                "locale": "en",
                "channels": worker,
            },
        )
    )
    await ok(
        api.post(
            "/api/v1/caregivers",
            json={"id": "c-duty", "display_name": "卫生服务中心值班", "channels": duty},
        )
    )
    await ok(
        api.post(
            "/api/v1/grids",
            json={"id": "g-1", "community_id": COMMUNITY, "name": "一网格", "worker_id": "c-grid"},
        )
    )
    await ok(api.put(f"/api/v1/communities/{COMMUNITY}/duty-line", json={"contact_id": "c-duty"}))
    if policy is not None:
        await ok(api.put(f"/api/v1/communities/{COMMUNITY}/escalation-policy", json=policy))
    macs = []
    for i in range(1, residents + 1):
        channels = family[i - 1] if family and isinstance(family[0], list) else family
        await ok(
            api.post(
                "/api/v1/caregivers",
                json={"id": f"c-fam-{i}", "display_name": f"家属{i}", "channels": channels},
            )
        )
        await ok(
            api.post(
                "/api/v1/residents",
                json={
                    "id": f"r-{i}",
                    "display_name": f"居民{i}",
                    "address": f"3号楼{i}室",
                    "community_id": COMMUNITY,
                    "grid_id": "g-1",
                    "caregivers": [f"c-fam-{i}"],
                },
            )
        )
        mac = band_mac(i)
        await ok(
            api.post(
                "/api/v1/wristbands",
                json={
                    "mac": mac,
                    "bind_key": f"{i:04x}" + "00112233445566778899aabbccdd",
                    "resident_id": f"r-{i}",
                },
            )
        )
        macs.append(mac)
    return macs


def critical(mac: str, kind: EventKind, key: int, detected_at: float, gateway: str) -> Event:
    return Event.incident(
        kind,
        Severity.CRITICAL,
        device=mac,
        key=key,
        gateway=gateway,
        occurred_at=detected_at,
        detected_at=detected_at,
    )


def gateway_client(stack: Stack, gateway_id: str) -> aiomqtt.Client:
    creds = stack.gateway_credentials[gateway_id]
    return aiomqtt.Client(
        stack.mosquitto.host,
        stack.mosquitto.port,
        username=creds.username,
        password=creds.password,
        identifier=creds.client_id or gateway_id,  # each account is pinned to its own id
        protocol=aiomqtt.ProtocolVersion.V5,
    )


async def publish(client: aiomqtt.Client, event: Event) -> None:
    await client.publish(str(Topic(event.gateway, TopicKind.EVENT)), encode(event), qos=1)
