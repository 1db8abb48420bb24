"""The API's door, from outside: password guessing, oversized bodies, echoed keys, and
files that hold personal data."""

import stat

import pytest

from tests.security.world import PASSWORD, World

pytestmark = [pytest.mark.security, pytest.mark.e2e]

KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def leaked(text: str) -> bool:
    """Any half of the key in the text (a cut-off echo leaks as much)."""
    return KEY[:16] in text or KEY[-16:] in text or KEY[8:24] in text


async def test_password_guessing_is_slowed_per_account_and_every_failure_is_audited(
    world: World,
):
    await world.ok(
        "POST",
        "/api/v1/users",
        {"id": "wang.li", "role": "staff", "town_id": "t-a", "password": PASSWORD},
    )

    async def sign_in(password: str) -> int:
        response = await world.api.post(
            "/api/v1/auth/token", data={"username": "wang.li", "password": password}
        )
        return response.status_code

    assert [await sign_in(f"guess {i}") for i in range(5)] == [401] * 5
    # The sixth try is not even checked — the right password included.
    response = await world.api.post(
        "/api/v1/auth/token", data={"username": "wang.li", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    # Another account from the same address still signs in (the address limit is higher).
    await world.ok(
        "POST",
        "/api/v1/users",
        {"id": "li.na", "role": "staff", "town_id": "t-b", "password": PASSWORD},
    )
    other = await world.api.post(
        "/api/v1/auth/token", data={"username": "li.na", "password": PASSWORD}
    )
    assert other.status_code == 200
    failed = await world.ok("GET", "/api/v1/audit?action=auth.sign_in_failed")
    assert len(failed) == 5
    assert {entry["target"] for entry in failed} == {"wang.li"}
    assert all(entry["detail"]["address"] == "127.0.0.1" for entry in failed)
    assert all("guess" not in str(entry) for entry in failed)  # no password in the audit


async def test_request_bodies_are_bounded(world: World):
    big = {"id": "c-big", "display_name": "x", "channels": [], "pad": "x" * 2_000_000}
    response = await world.api.post("/api/v1/caregivers", json=big)
    assert response.status_code == 413

    # Without a declared length (chunked), too.
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    response = await world.api.post(
        "/api/v1/caregivers", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    # A nested gateway rules document is refused with a 4xx, and the list still works.
    deep: dict[str, object] = {}
    node = deep
    for _ in range(900):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    response = await world.api.post(
        "/api/v1/gateways", json={"id": "gw-deep", "communities": ["c-a"], "rules": deep}
    )
    assert 400 <= response.status_code < 500, response.text
    assert (await world.api.get("/api/v1/gateways")).status_code == 200


async def test_a_key_in_the_wrong_place_is_never_echoed(world: World):
    as_id = "a" + KEY[1:]  # a key that also passes for an opaque id
    csv = f"mac,bind_key,community_id\n{KEY},{KEY},c-a\nC2:00:00:00:0A:09,{KEY},{as_id}\n"
    response = await world.api.post(
        "/api/v1/wristbands/import?dry_run=true",
        content=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code in (200, 422), response.text
    assert response.json()["error_rows"] == 2
    assert not leaked(response.text)
    for body in (
        {"mac": KEY, "bind_key": KEY},
        {"mac": "C2:00:00:00:0A:09", "bind_key": KEY, "community_id": "a" + KEY[1:]},
        {"mac": "C2:00:00:00:0A:09", "bind_key": KEY, "firmware": KEY},
    ):
        response = await world.api.post("/api/v1/wristbands", json=body)
        assert response.status_code >= 400
        assert not leaked(response.text), response.text


async def test_files_with_personal_data_are_private(world: World):
    data = world.stack.fleet_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("registry.db", "registry.db-wal", "secret.key", "influx-spill.db"):
        path = data / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert (data / "registry.db").exists()
    assert (data / "influx-spill.db").exists()
