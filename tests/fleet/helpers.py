"""Helpers for the fleet's API tests: tokens per role, a small district to work in."""

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contract.sealing import generate_keypair
from fleet.auth import Role, issue_token
from fleet.db.models import User
from fleet.main import Fleet, create_app
from fleet.registry import users
from fleet.settings import FleetSettings


def make_app(settings: FleetSettings) -> FastAPI:
    return create_app(settings)


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def fleet(self) -> Fleet:
        fleet: Fleet = self.client.app.state.fleet  # type: ignore[attr-defined]
        return fleet

    def token(self, subject: str, role: Role, town_id: str | None = None) -> str:
        key = f"{role}:{subject}"
        if key not in self.tokens:
            with self.fleet.sessions.begin() as session:
                if session.get(User, subject) is None:
                    users.create_user(
                        session, user_id=subject, role=role, town_id=town_id, check=False
                    )
                self.tokens[key] = issue_token(session, subject=subject, role=role)
        return self.tokens[key]

    def as_(self, subject: str, role: Role, town_id: str | None = None) -> "As":
        return As(self.client, self.token(subject, role, town_id))

    @property
    def admin(self) -> "As":
        return self.as_("root", Role.ADMIN)


@dataclass
class As:
    client: TestClient
    token: str

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, headers=self._headers(), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.post(path, json=json, headers=self._headers(), **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.patch(path, json=json, headers=self._headers(), **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.put(path, json=json, headers=self._headers(), **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.delete(path, headers=self._headers(), **kw)

    def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        response = (
            getattr(self, method)(path, json=json)
            if json is not None
            else getattr(self, method)(path)
        )
        assert response.status_code == status, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json()


def district(api: Api) -> None:
    """Two towns, a community in each (plus a second one in the first), a caregiver
    and a resident in each of the first two communities."""
    admin = api.admin
    for town in ("t-north", "t-south"):
        admin.ok("post", "/api/v1/towns", {"id": town, "name": town}, 201)
    for community, town in (
        ("c-xingfu", "t-north"),
        ("c-heping", "t-north"),
        ("c-nanhu", "t-south"),
    ):
        admin.ok(
            "post",
            "/api/v1/communities",
            {"id": community, "town_id": town, "name": community},
            201,
        )
    for i, community, town in ((1, "c-xingfu", "t-north"), (2, "c-nanhu", "t-south")):
        admin.ok(
            "post",
            "/api/v1/caregivers",
            {
                "id": f"cg-{i}",
                "display_name": f"照护人{i}",
                "phone": f"+86138000000{i:02d}",
                "town_id": town,  # registered by their resident's town
            },
            201,
        )
        admin.ok(
            "post",
            "/api/v1/residents",
            {
                "id": f"r-{i}",
                "display_name": f"居民{i}",
                "address": f"{community} 1号楼{i}室",
                "community_id": community,
                "caregivers": [f"cg-{i}"],
                "care_plan": {
                    "active_hours": {"start": "07:00", "end": "21:30"},
                    "inactivity_s": 7200,
                    "medication": [{"id": "am", "time": "08:00"}],
                },
                "medication_labels": {"am": "降压药"},
            },
            201,
        )


def enroll(api: Api, gateway_id: str, communities: list[str]) -> tuple[dict[str, Any], str]:
    """Create a gateway and enroll it as the gateway would; return (answer, private key)."""

    created = api.admin.ok(
        "post", "/api/v1/gateways", {"id": gateway_id, "communities": communities}, 201
    )
    private_key, public_key = generate_keypair()
    response = api.client.post(
        "/api/v1/enroll", json={"token": created["enrollment_token"], "public_key": public_key}
    )
    assert response.status_code == 200, response.text
    return response.json(), private_key
