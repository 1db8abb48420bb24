"""Roles hold across towns: a table of role x write operation x town, generated from the
fleet's own OpenAPI document (fetched over HTTP), so a new write route without a case
here fails this test instead of shipping unchecked.

For every write operation, the caller is staff of town A. Each id the operation takes
(in its path or body) is given from town A, and then — one at a time — from town B:
all-A must work, any B must be refused (4xx) and change nothing. The B-town people are
the hardest case: each also cares for a resident of town A, so town A's staff can *see*
them — seeing someone must not let staff make them a caregiver, grid worker, duty line
or policy contact in their town. A caregiver of town A tries every operation too, and
may only acknowledge and resolve their own resident's alert. The probe that found it:
staff of one town made another town's person a grid worker of theirs, who then got that
town's fall alerts with names and addresses.
"""

import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from contract import EventKind
from tests.security.world import GW_A, GW_B, PASSWORD, World, incident
from tests.waiting import eventually

pytestmark = [pytest.mark.security, pytest.mark.e2e]

# Writes that name no town-scoped record: sign-in and a gateway's own enrollment
# (its one-time token is the credential).
NOT_TOWN_SCOPED = {("POST", "/api/v1/auth/token"), ("POST", "/api/v1/enroll")}
WRITE_METHODS = {"post", "put", "patch", "delete"}


@dataclass(frozen=True)
class Op:
    """How to call one write operation; ``{name}`` marks an id taken from a town."""

    body: Any = None
    csv: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    admin_only: bool = False
    caregiver_may: bool = False  # a caregiver of town A may do it (their resident's alert)


POLICY = {
    "steps": [
        {"after_s": 0, "targets": ["caregivers"]},
        {"after_s": 60, "targets": ["contact:{contact}"]},
    ],
    "repeat_every_s": 600,
}

OPS: dict[tuple[str, str], Op] = {
    ("POST", "/api/v1/towns"): Op({"id": "{new}", "name": "x"}, admin_only=True),
    ("POST", "/api/v1/communities"): Op({"id": "{new}", "town_id": "{town}", "name": "x"}),
    ("POST", "/api/v1/grids"): Op(
        {"id": "{new}", "community_id": "{community}", "name": "x", "worker_id": "{worker}"}
    ),
    ("PATCH", "/api/v1/grids/{grid_id}"): Op({"worker_id": "{worker}"}),
    ("POST", "/api/v1/residents"): Op(
        {
            "id": "{new}",
            "display_name": "x",
            "community_id": "{community}",
            "caregivers": ["{caregiver}"],
        }
    ),
    ("PATCH", "/api/v1/residents/{resident_id}"): Op(
        {"community_id": "{community}", "caregivers": ["{caregiver}"]}
    ),
    ("POST", "/api/v1/caregivers"): Op({"id": "{new}", "display_name": "x", "town_id": "{town}"}),
    ("PATCH", "/api/v1/caregivers/{caregiver_id}"): Op({"kind": "grid_worker"}),
    ("POST", "/api/v1/wristbands"): Op(
        {
            "mac": "{new_mac}",
            "bind_key": "{new_key}",
            "resident_id": "{bandless}",
            "community_id": "{community}",
        }
    ),
    ("PATCH", "/api/v1/wristbands/{mac}"): Op({"firmware": "2.0"}),
    ("POST", "/api/v1/wristbands/{mac}/assign"): Op({"resident_id": "{bandless}"}),
    ("POST", "/api/v1/wristbands/{mac}/retire"): Op(),
    ("POST", "/api/v1/wristbands/import"): Op(
        csv="mac,bind_key,community_id,resident_id\n{new_mac},{new_key},{community},{bandless}\n",
        query={"dry_run": "false"},
    ),
    ("POST", "/api/v1/residents/import"): Op(
        csv="id,display_name,community_id,grid_id,caregivers\n{new},x,{community},{grid},{caregiver}\n",
        query={"dry_run": "false"},
    ),
    ("POST", "/api/v1/caregivers/import"): Op(
        csv="id,display_name,town_id,residents\n{new},x,{town},{resident}\n",
        query={"dry_run": "false"},
    ),
    ("POST", "/api/v1/meters/import"): Op(
        csv=(
            "id,flat,community_id,gateway_id,protocol,address,port,profile\n"
            "{new},{flat},{community},{gateway},modbus,2,/dev/ttyUSB0,sdm120\n"
        ),
        query={"dry_run": "false"},
    ),
    ("POST", "/api/v1/gateways"): Op({"id": "{new}", "communities": ["{community}"]}),
    ("PATCH", "/api/v1/gateways/{gateway_id}"): Op({"communities": ["{community}"]}),
    ("POST", "/api/v1/gateways/{gateway_id}/enrollment-token"): Op({}),
    ("POST", "/api/v1/gateways/{gateway_id}/revoke"): Op(),
    ("PUT", "/api/v1/communities/{community_id}/escalation-policy"): Op(POLICY),
    ("DELETE", "/api/v1/communities/{community_id}/escalation-policy"): Op(),
    ("PUT", "/api/v1/communities/{community_id}/duty-line"): Op({"contact_id": "{contact}"}),
    ("POST", "/api/v1/users"): Op(
        {"id": "{new}", "role": "staff", "town_id": "{town}", "password": PASSWORD},
        admin_only=True,
    ),
    ("PATCH", "/api/v1/users/{user_id}"): Op({"town_id": "{town}"}, admin_only=True),
    ("POST", "/api/v1/meters"): Op(
        {
            "id": "{new}",
            "flat": "{flat}",
            "protocol": "modbus",
            "address": "2",
            "profile": "sdm120",
            "port": "/dev/ttyUSB0",
            "gateway_id": "{gateway}",
            "community_id": "{community}",
        }
    ),
    ("PUT", "/api/v1/meters/{meter_id}"): Op(
        {
            "id": "{meter}",
            "flat": "{flat}",
            "protocol": "modbus",
            "address": "1",
            "profile": "sdm120",
            "port": "/dev/ttyUSB0",
            "gateway_id": "{gateway}",
            "community_id": "{community}",
        }
    ),
    ("DELETE", "/api/v1/meters/{meter_id}"): Op(),
    ("POST", "/api/v1/alerts/{alert_id}/ack"): Op(caregiver_may=True),
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): Op({"outcome": "attended"}, caregiver_may=True),
    # Sending someone: the alert and the person sent must both be the caller's town's.
    ("POST", "/api/v1/alerts/{alert_id}/task/assign"): Op({"contact_id": "{worker}"}),
    # Reports from outside name a resident: another town's is an unknown one (row error).
    ("POST", "/api/v1/risk/reports"): Op(
        {
            "source": "hotline",
            "rows": [{"resident_id": "{resident}", "reported_at": "2026-01-01", "concern": "x"}],
        }
    ),
    ("POST", "/api/v1/risk/reports/import"): Op(
        csv="resident_id,reported_at,concern\n{resident},2026-01-01,x\n",
        query={"source": "hotline", "dry_run": "false"},
    ),
    ("POST", "/api/v1/risk/evaluate"): Op({}, admin_only=True),
    # A visit from the risk board: staff of the resident's town (or their grid worker).
    ("POST", "/api/v1/risk/visits"): Op({"resident_id": "{resident}", "found": "well"}),
    # The band was checked after repeated false alarms (none open: closes nothing).
    ("POST", "/api/v1/residents/{resident_id}/band-check/done"): Op(),
}

# Path parameters are the town-scoped record they name.
PATH_PARAMS = {
    "grid_id": "grid",
    "resident_id": "resident",
    "caregiver_id": "caregiver",
    "mac": "band",
    "gateway_id": "gateway",
    "community_id": "community",
    "user_id": "user",
    "alert_id": "alert",
    "meter_id": "meter",
}
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
FRESH = {"new", "new_mac", "new_key"}


@dataclass
class Towns:
    """One op's two towns: each name maps to its id in town A and in town B."""

    ids: dict[str, tuple[str, str]]
    staff_a: httpx.AsyncClient
    carer_a: httpx.AsyncClient


_counter = itertools.count(1)


def _fresh(name: str) -> str:
    n = next(_counter)
    if name == "new_mac":
        return f"C2:77:00:00:{n // 256:02X}:{n % 256:02X}"
    if name == "new_key":
        return f"{n:04x}" + "9988776655443322110099887766"
    return f"x-new-{n}"


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: ids[m.group(1)], value)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _names(path: str, op: Op) -> list[str]:
    """The town-scoped names an operation takes, in its path and its body."""
    found = [PATH_PARAMS[p] for p in PLACEHOLDER.findall(path)]
    found += PLACEHOLDER.findall(repr(op.body) + (op.csv or ""))
    return [n for n in dict.fromkeys(found) if n not in FRESH]


_keys = itertools.count(1)


async def _alert(world: World, band: str, gateway: str) -> str:
    """An unresolved alert of the band (a new SOS opens one if the last was resolved)."""
    await world.send_events(gateway, incident(EventKind.SOS, band, gateway, next(_keys)))

    async def opened() -> str | None:
        rows = await world.alerts()
        return next(
            (str(a["id"]) for a in rows if a["device"] == band and a["state"] != "resolved"),
            None,
        )

    found: str = await eventually(opened, 30, f"an open alert of {band}")
    return found


async def _towns(world: World, n: int, with_alerts: bool) -> Towns:
    """Town A and town B of operation ``n``, made by an admin."""
    ok = world.ok
    ids: dict[str, list[str]] = {}
    for side, gateway in (("a", GW_A), ("b", GW_B)):
        town, community, s = f"t-{side}-{n}", f"c-{side}-{n}", f"{side}-{n}"
        await ok("POST", "/api/v1/towns", {"id": town, "name": town})
        await ok("POST", "/api/v1/communities", {"id": community, "town_id": town, "name": s})
        for person, kind in (("fam", "family"), ("worker", "grid_worker"), ("contact", "family")):
            await ok(
                "POST",
                "/api/v1/caregivers",
                {"id": f"{person}-{s}", "display_name": person, "kind": kind, "town_id": town},
            )
        await ok(
            "POST",
            "/api/v1/grids",
            {"id": f"g-{s}", "community_id": community, "name": s, "worker_id": f"worker-{s}"},
        )
        for resident in (f"r-{s}", f"r-{s}-2"):
            await ok(
                "POST",
                "/api/v1/residents",
                {
                    "id": resident,
                    "display_name": resident,
                    "community_id": community,
                    "caregivers": [f"fam-{s}"],
                    "flat": f"f-{resident}",
                },
            )
        band = f"C2:55:{0 if side == 'a' else 1:02X}:00:{n // 256:02X}:{n % 256:02X}"
        await ok(
            "POST",
            "/api/v1/wristbands",
            {
                "mac": band,
                "bind_key": f"{n:04x}{side * 4}" + "00112233445566778899aabb",
                "resident_id": f"r-{s}",
            },
        )
        await ok("POST", "/api/v1/gateways", {"id": f"gw-{s}", "communities": [community]})
        await ok(
            "POST",
            "/api/v1/meters",
            {
                "id": f"m-{s}",
                "flat": f"f-r-{s}",
                "protocol": "modbus",
                "address": "1",
                "profile": "sdm120",
                "port": "/dev/ttyUSB0",
                "gateway_id": f"gw-{s}",
                "community_id": community,
            },
        )
        await ok(
            "POST",
            "/api/v1/users",
            {"id": f"staff-{s}", "role": "staff", "town_id": town, "password": PASSWORD},
        )
        entry = {
            "town": town,
            "community": community,
            "grid": f"g-{s}",
            "resident": f"r-{s}",
            "bandless": f"r-{s}-2",
            "caregiver": f"fam-{s}",
            "worker": f"worker-{s}",
            "contact": f"contact-{s}",
            "band": band,
            "gateway": f"gw-{s}",
            "user": f"staff-{s}",
            "meter": f"m-{s}",
            "flat": f"f-r-{s}",
        }
        if with_alerts:
            # The Stack's gateway of that side covers this community too, and raises it.
            covered = await ok("GET", f"/api/v1/gateways/{gateway}")
            await ok(
                "PATCH",
                f"/api/v1/gateways/{gateway}",
                {"communities": [*covered["communities"], community]},
            )
            entry["alert"] = await _alert(world, band, gateway)
        for name, value in entry.items():
            ids.setdefault(name, []).append(value)
    # Town B's people also care for a resident of town A: A's staff can see them.
    await ok(
        "PATCH",
        f"/api/v1/residents/r-a-{n}-2",
        {"caregivers": [f"fam-a-{n}", f"fam-b-{n}", f"worker-b-{n}", f"contact-b-{n}"]},
    )
    staff_a = await _sign_in(world, f"staff-a-{n}")
    await ok(
        "POST", "/api/v1/users", {"id": f"fam-a-{n}", "role": "caregiver", "password": PASSWORD}
    )
    carer_a = await _sign_in(world, f"fam-a-{n}")
    return Towns({k: (v[0], v[1]) for k, v in ids.items()}, staff_a, carer_a)


async def _sign_in(world: World, user: str) -> httpx.AsyncClient:
    response = await world.api.post(
        "/api/v1/auth/token", data={"username": user, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return httpx.AsyncClient(
        base_url=world.stack.fleet_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


async def _call(
    client: httpx.AsyncClient, method: str, path: str, op: Op, ids: dict[str, str]
) -> httpx.Response:
    fresh = {name: _fresh(name) for name in FRESH}
    values = {**ids, **fresh}
    url = path.format(
        **{param: values[name] for param, name in PATH_PARAMS.items() if name in values}
    )
    if op.csv is not None:
        return await client.request(
            method,
            url,
            params=op.query,
            content=_fill(op.csv, values).encode(),
            headers={"Content-Type": "text/csv"},
        )
    if op.body is None:
        return await client.request(method, url, params=op.query)
    return await client.request(method, url, params=op.query, json=_fill(op.body, values))


async def test_every_write_checks_the_callers_town_on_both_ends(world: World):
    spec = (await world.api.get("/openapi.json")).json()
    writes = sorted(
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in WRITE_METHODS and path.startswith("/api/v1/")
    )
    uncovered = [w for w in writes if w not in OPS and w not in NOT_TOWN_SCOPED]
    assert not uncovered, f"write routes without a cross-town case: {uncovered}"
    assert set(OPS) <= set(writes), f"cases for routes that are gone: {set(OPS) - set(writes)}"

    table: list[str] = []
    wrong: list[str] = []
    started = time.monotonic()
    for n, (method, path) in enumerate(sorted(OPS), start=1):
        op = OPS[(method, path)]
        towns = await _towns(world, n, with_alerts="{alert_id}" in path)
        a = {name: pair[0] for name, pair in towns.ids.items()}
        cases: list[tuple[str, httpx.AsyncClient, dict[str, str], bool]] = []
        for name in _names(path, op):
            # One id from town B, the rest from town A: refused, whoever the caller.
            cases.append(
                (f"staff A, {name} from B", towns.staff_a, {**a, name: towns.ids[name][1]}, False)
            )
        cases.append(("caregiver A, all from A", towns.carer_a, a, op.caregiver_may))
        cases.append(("staff A, all from A", towns.staff_a, a, not op.admin_only))
        if op.admin_only:
            cases.append(("admin, all from A", world.api, a, True))
        for label, client, given, allowed in cases:
            ids = given
            if allowed and "alert" in ids:  # the last allowed case may have resolved it
                ids = {**given, "alert": await _alert(world, given["band"], GW_A)}
            response = await _call(client, method, path, op, ids)
            got = response.status_code
            fine = 200 <= got < 300 if allowed else (400 <= got < 500 and got != 401)
            line = f"{method:6} {path:55} {label:32} {'allow' if allowed else 'refuse':6} -> {got}"
            table.append(line)
            if not fine:
                wrong.append(f"{line}: {response.text[:200]}")
        await towns.staff_a.aclose()
        await towns.carer_a.aclose()
    print(
        f"\n{len(table)} cases over {len(OPS)} write operations in {time.monotonic() - started:.0f}s"
    )
    print("\n".join(table))
    assert not wrong, "\n".join(wrong)
