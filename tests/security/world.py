"""Two towns on the real broker and fleet, and the attacker's and the gateways' tools.

Town A (community c-a, gateway gw-a) and town B (community c-b, gateway gw-b), one
resident each with a wristband and a family caregiver whose phone is the receiver.
Everything is set up and attacked from outside: the fleet's HTTP API and the broker,
with the credentials a stolen gateway (or a staff member, or a caregiver) would have.
No gateway process runs: the tests speak for the gateways, honestly or not.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiomqtt
import httpx

from contract import Event, EventKind, Reading, Severity, TelemetryBatch, Topic, TopicKind, encode
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import Stack
from tests.waiting import eventually

GW_A, GW_B = "gw-a", "gw-b"
BAND_A, BAND_B = "C2:00:00:00:0A:01", "C2:00:00:00:0B:01"
PASSWORD = "correct horse battery staple"


@dataclass
class World:
    stack: Stack
    receiver: Receiver

    @property
    def api(self) -> httpx.AsyncClient:
        assert self.stack.api is not None
        return self.stack.api

    async def ok(self, method: str, path: str, body: Any = None, *codes: int) -> Any:
        response = await self.api.request(method, path, json=body)
        assert response.status_code in (codes or (200, 201)), (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json()

    async def build(self) -> None:
        for town, community, gateway, band, n in (
            ("t-a", "c-a", GW_A, BAND_A, "a"),
            ("t-b", "c-b", GW_B, BAND_B, "b"),
        ):
            await self.ok("POST", "/api/v1/towns", {"id": town, "name": f"town {n}"})
            await self.ok(
                "POST", "/api/v1/communities", {"id": community, "town_id": town, "name": n}
            )
            await self.ok(
                "POST",
                "/api/v1/caregivers",
                {
                    "id": f"fam-{n}",
                    "display_name": f"family {n}",
                    "locale": "en",
                    "town_id": town,
                    "channels": [self.receiver.url(f"fam-{n}")],
                },
            )
            await self.ok(
                "POST",
                "/api/v1/residents",
                {
                    "id": f"r-{n}",
                    "display_name": f"resident {n}",
                    "address": f"building {n}",
                    "community_id": community,
                    "caregivers": [f"fam-{n}"],
                },
            )
            await self.ok(
                "POST",
                "/api/v1/wristbands",
                {
                    "mac": band,
                    "bind_key": n * 2 + "00112233445566778899aabbccddee",
                    "resident_id": f"r-{n}",
                },
            )
            await self.ok("POST", "/api/v1/gateways", {"id": gateway, "communities": [community]})

    async def user(self, user_id: str, role: str, town_id: str | None = None) -> httpx.AsyncClient:
        """A user with a password, signed in over HTTP: their own API client."""
        await self.ok(
            "POST",
            "/api/v1/users",
            {"id": user_id, "role": role, "town_id": town_id, "password": PASSWORD},
        )
        response = await self.api.post(
            "/api/v1/auth/token", data={"username": user_id, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return httpx.AsyncClient(
            base_url=self.stack.fleet_url,
            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
            timeout=30,
        )

    def gateway(self, gateway_id: str, identifier: str | None = None) -> aiomqtt.Client:
        """An MQTT client with a gateway's credentials (its own, or stolen ones)."""
        creds = self.stack.gateway_credentials[gateway_id]
        return aiomqtt.Client(
            self.stack.mosquitto.host,
            self.stack.mosquitto.port,
            username=creds.username,
            password=creds.password,
            identifier=identifier or gateway_id,
            protocol=aiomqtt.ProtocolVersion.V5,
        )

    def fleet_side(self, name: str) -> aiomqtt.Client:
        """A client with the fleet's rights, under an account of its own (an observer)."""
        return self.stack.fleet_side_client(name)

    async def send(self, gateway_id: str, kind: TopicKind, *payloads: bytes) -> None:
        async with self.gateway(gateway_id) as client:
            for payload in payloads:
                await client.publish(str(Topic(gateway_id, kind)), payload, qos=1)

    async def send_events(self, gateway_id: str, *events: Event) -> None:
        await self.send(gateway_id, TopicKind.EVENT, *(encode(e) for e in events))

    async def health(self) -> dict[str, Any]:
        return dict((await self.api.get("/health")).json())

    async def alerts(self, **query: str) -> list[dict[str, Any]]:
        return list((await self.api.get("/api/v1/alerts", params=query)).json())

    async def dead_letters(self, **query: str) -> list[dict[str, Any]]:
        return list((await self.api.get("/api/v1/dead-letters", params=query)).json())

    async def parked(self, gateway: str, cause: str, at_least: int = 1) -> list[dict[str, Any]]:
        """Wait until the fleet has parked ``at_least`` messages of ``gateway`` for
        ``cause`` — the sign that it has handled (and refused) them."""

        async def found() -> list[dict[str, Any]] | None:
            rows = await self.dead_letters(gateway=gateway, cause=cause)
            return rows if sum(r["times"] for r in rows) >= at_least else None

        result: list[dict[str, Any]] = await eventually(
            found, 30, f"{at_least} {cause} dead letter(s) of {gateway}"
        )
        return result

    async def handled_events(self, at_least: int) -> None:
        """Wait until the fleet has stored ``at_least`` events in all."""

        async def enough() -> bool:
            return int((await self.health())["ingest"].get("events", 0)) >= at_least

        await eventually(enough, 30, f"{at_least} events stored")

    async def wait_notified(self, path: str, n: int = 1) -> list[Any]:
        return list(await asyncio.to_thread(self.receiver.wait_for, n, path=path, timeout=30))


def incident(
    kind: EventKind,
    band: str,
    gateway: str,
    key: int | str,
    *,
    at: float | None = None,
    severity: Severity = Severity.CRITICAL,
) -> Event:
    now = time.time() if at is None else at
    return Event.incident(
        kind, severity, device=band, gateway=gateway, key=key, occurred_at=now, detected_at=now
    )


def telemetry(gateway: str, seq: int, *readings: Reading) -> bytes:
    return encode(TelemetryBatch(gateway=gateway, seq=seq, readings=list(readings)))


def reading(band: str, *, ts: float | None = None, rssi: int = -70, steps: int = 1) -> Reading:
    return Reading(
        device=band, ts=time.time() if ts is None else ts, rssi=rssi, fields={"steps": steps}
    )
