"""The config seam, from both sides' own code: what the fleet builds from its registry,
the gateway applies — every kind of care plan, rule thresholds, meters, contacts.

The fleet side is its real API and ``config_push.build_config`` (on SQLite and
PostgreSQL); the gateway side is ``edge.app.Gateway`` (its config applier, rule engine,
decoder and meter service), as a gateway process builds it. No schema is copied here:
only what each side itself does.
"""

import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contract.careplan import CarePlan, FallSensitivity
from contract.config import ConfigReport
from contract.sealing import generate_keypair
from edge.app import Gateway
from edge.settings import GatewaySettings
from fleet.db.models import Gateway as GatewayRow
from fleet.db.models import Resident
from fleet.registry import config_push
from tests.fleet.helpers import Api, district

PRIVATE, PUBLIC = generate_keypair()

# Every kind of plan the health center writes, one resident each.
PLANS: dict[str, dict[str, Any]] = {
    "r-none": {},
    "r-hours": {"active_hours": {"start": "06:30", "end": "21:00"}},
    "r-night": {"active_hours": "22:00-06:00"},  # works nights: across midnight
    "r-still": {"inactivity_s": 90 * 60},
    "r-doses": {
        "medication": [
            {"id": "pm", "time": "20:00"},
            {"id": "am", "time": "08:00"},
            {"id": "noon", "time": "12:30"},
        ]
    },
    "r-frail": {"fall_sensitivity": "high", "inactivity_s": 3600},
    "r-active": {"fall_sensitivity": "low", "active_hours": "05:00-23:30"},
    "r-all": {
        "active_hours": {"start": "07:15", "end": "22:45"},
        "inactivity_s": 24 * 3600,
        "medication": [{"id": f"d{i}", "time": f"{8 + i:02d}:00"} for i in range(12)],
        "fall_sensitivity": "standard",
    },
}


def register(api: Api, tmp_path: Path) -> dict[str, str]:
    """A community with one resident per kind of plan, their bands, caregivers (one in
    English), meters of every protocol and gateway-wide rules; returns resident -> MAC."""
    district(api)
    admin = api.admin
    admin.ok(
        "post",
        "/api/v1/caregivers",
        {"id": "cg-en", "display_name": "Anna", "locale": "en", "phone": "+8613900000009"},
        201,
    )
    macs = {}
    for i, (resident, plan) in enumerate(PLANS.items(), start=1):
        labels = {dose["id"]: f"药{n}" for n, dose in enumerate(plan.get("medication", []))}
        admin.ok(
            "post",
            "/api/v1/residents",
            {
                "id": resident,
                "display_name": f"居民{i}",
                "community_id": "c-xingfu",
                "flat": f"f-{i}",
                "caregivers": ["cg-en"] if resident == "r-all" else ["cg-1"],
                "care_plan": plan,
                "medication_labels": labels,
            },
            201,
        )
        mac = f"C2:00:00:00:01:{i:02X}"
        admin.ok(
            "post",
            "/api/v1/wristbands",
            {
                "mac": mac,
                "bind_key": bytes(range(i, i + 16)).hex(),
                "resident_id": resident,
                # A cheap band on the frail resident's wrist: 20 Hz, impacts recorded lower.
                "sample_rate_hz": 20.0 if resident == "r-frail" else None,
            },
            201,
        )
        macs[resident] = mac
    admin.ok(
        "post",
        "/api/v1/gateways",
        {
            "id": "gw-seam",
            "communities": ["c-xingfu"],
            "rules": {"timezone": "Asia/Urumqi", "fall": {"confirm_window_s": 45}},
        },
        201,
    )
    port_a, port_b = tmp_path / "ttyRS485-0", tmp_path / "ttyRS485-1"
    port_a.touch()
    port_b.touch()
    for body in (
        {"id": "m-1-e", "flat": "f-1", "protocol": "modbus", "address": "1", "profile": "sdm120"},
        {"id": "m-1-w", "flat": "f-1", "protocol": "modbus", "address": "2", "profile": "water"},
        {
            "id": "m-2-x",
            "flat": "f-2",
            "protocol": "modbus",
            "address": "3",
            "registers": [{"field": "power_w", "table": "holding", "address": 16, "type": "int16"}],
        },
    ):
        admin.ok(
            "post",
            "/api/v1/meters",
            {**body, "port": str(port_a), "gateway_id": "gw-seam", "community_id": "c-xingfu"},
            201,
        )
    admin.ok(
        "post",
        "/api/v1/meters",
        {
            "id": "m-3-e",
            "flat": "f-3",
            "protocol": "dlt645",
            "address": "000012345678",
            "port": str(port_b),
            "parity": "N",
            "gateway_id": "gw-seam",
            "community_id": "c-xingfu",
        },
        201,
    )
    with api.fleet.sessions.begin() as session:
        row = session.get(GatewayRow, "gw-seam")
        assert row is not None
        row.state, row.public_key = "enrolled", PUBLIC  # as enrollment leaves it
    return macs


def built_by_the_fleet(api: Api) -> bytes:
    """The retained payload the fleet's publisher would send (its own code)."""
    with api.fleet.sessions() as session:
        row = session.get(GatewayRow, "gw-seam")
        assert row is not None
        return config_push.build_config(session, row, api.fleet.vault).encode()


def the_gateway(tmp_path: Path) -> Gateway:
    settings = GatewaySettings(
        gateway_id="gw-seam",
        data_dir=tmp_path / "gateway",
        private_key=PRIVATE,  # type: ignore[arg-type]
    )
    return Gateway(settings)


def applied(gateway: Gateway, payload: bytes) -> ConfigReport:
    report = gateway.config.receive(payload)
    assert report is not None
    return report


def test_every_kind_of_plan_the_fleet_builds_the_gateway_applies(api: Api, tmp_path: Path):
    macs = register(api, tmp_path)
    gateway = the_gateway(tmp_path)
    report = applied(gateway, built_by_the_fleet(api))

    assert report.ok, report.error
    assert report.set_aside == []
    assert set(gateway.decoder.known()) == set(macs.values())
    rules = gateway.rules.config
    assert rules.rules.timezone == "Asia/Urumqi"
    assert rules.rules.fall.confirm_window_s == 45
    for resident, plan in PLANS.items():
        mac = macs[resident]
        expected = CarePlan.model_validate(plan)
        resident_config = rules.resident_of(mac)
        assert resident_config is not None, resident
        assert resident_config.plan == expected
        assert rules.inactivity_span_s(mac) == (
            expected.inactivity_s or rules.rules.inactivity.span_s
        )
        assert rules.active_hours(mac) == (
            expected.active_hours or rules.rules.inactivity.active_hours
        )
        assert [d.time for d in rules.doses(mac)] == sorted(d.time for d in expected.medication)
        assert rules.flat_of(mac) is not None
    assert str(rules.active_hours(macs["r-night"])) == "22:00-06:00"
    assert rules.resident_of(macs["r-frail"]).plan.fall_sensitivity is FallSensitivity.HIGH  # type: ignore[union-attr]
    # Fall sensitivity and the band's rate reach the gateway's fall rule.
    base = rules.rules.fall
    assert rules.fall_settings(macs["r-none"]) == base
    frail, active = rules.fall_settings(macs["r-frail"]), rules.fall_settings(macs["r-active"])
    assert frail.impact_g < base.impact_g
    assert frail.posture_change_deg < base.posture_change_deg
    assert active.impact_g > base.impact_g
    assert active.still_s > base.still_s
    assert {m.id for m in gateway.meters.meters} == {"m-1-e", "m-1-w", "m-2-x", "m-3-e"}
    assert gateway.meters.rules.recent_usage("f-1", 0.0, 60).water is None  # known flat, no data


def test_what_the_gateway_reports_is_what_the_fleet_shows(api: Api, tmp_path: Path):
    register(api, tmp_path)
    gateway = the_gateway(tmp_path)
    (tmp_path / "ttyRS485-1").unlink()  # the DL/T 645 bus is not plugged in on site
    report = applied(gateway, built_by_the_fleet(api))
    assert report.ok
    assert [(p.section, p.name) for p in report.set_aside] == [("meters", "m-3-e")]
    assert {m.id for m in gateway.meters.meters} == {"m-1-e", "m-1-w", "m-2-x"}
    config_push.store_report(api.fleet.sessions, report)
    shown = api.admin.ok("get", "/api/v1/gateways/gw-seam")
    assert shown["reported_set_aside"] == [
        {
            "section": "meters",
            "name": "m-3-e",
            "reason": f"serial port {tmp_path / 'ttyRS485-1'} does not exist on this gateway",
        }
    ]


def test_a_bad_row_in_the_registry_never_cuts_the_gateway_off(api: Api, tmp_path: Path):
    macs = register(api, tmp_path)
    with api.fleet.sessions.begin() as session:
        row = session.get(Resident, "r-doses")
        assert row is not None
        row.settings = {"inactivity_minutes": 5}  # an old or damaged row
    gateway = the_gateway(tmp_path)
    report = applied(gateway, built_by_the_fleet(api))
    assert report.ok
    assert set(gateway.decoder.known()) == set(macs.values())  # every band's key still arrives
    assert gateway.rules.config.doses(macs["r-doses"]) == []  # its plan fell back to defaults


# -- any plan the API accepts, the gateway applies as it was given ------------------------

_EXAMPLES = itertools.count()
_CLOCK = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
_PLAN_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "active_hours": st.one_of(
            st.fixed_dictionaries({"start": _CLOCK, "end": _CLOCK}),
            st.builds(lambda a, b: f"{a}-{b}", _CLOCK, _CLOCK),
            st.text(max_size=12),
        ),
        "inactivity_s": st.one_of(
            st.integers(0, 2 * 86400), st.floats(allow_nan=False, allow_infinity=False)
        ),
        "medication": st.lists(
            st.fixed_dictionaries(
                {"id": st.from_regex(r"[a-z0-9-]{1,22}", fullmatch=True), "time": _CLOCK}
            ),
            max_size=14,
        ),
        "fall_sensitivity": st.sampled_from(["low", "standard", "high", "extreme"]),
        "inactivity_minutes": st.integers(0, 100),
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=_PLAN_FIELDS)
def test_any_plan_the_api_accepts_the_gateway_applies_unchanged(
    api: Api, tmp_path: Path, plan: dict[str, Any]
):
    if not hasattr(api, "_seam"):
        register(api, tmp_path)
        api._seam = True  # type: ignore[attr-defined]
    response = api.admin.patch("/api/v1/residents/r-none", {"care_plan": plan})
    try:
        expected = CarePlan.model_validate(plan)
    except ValidationError:
        # Refused by the API with the field named, exactly when the contract refuses it.
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][:2] == ["body", "care_plan"]
        return
    assert response.status_code == 200, response.text
    gateway = the_gateway(tmp_path / f"example-{next(_EXAMPLES)}")
    report = applied(gateway, built_by_the_fleet(api))
    assert report.ok
    assert report.set_aside == []
    mac = "C2:00:00:00:01:01"
    resident = gateway.rules.config.resident_of(mac)
    assert resident is not None
    assert resident.plan == expected
