"""Enrollment and config push through the real Mosquitto (dynamic security), on SQLite
and PostgreSQL."""

import asyncio
import json
from datetime import timedelta
from typing import Any

import aiomqtt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from contract import Topic, TopicKind, encode
from contract.careplan import CarePlan
from contract.config import (
    ConfigReport,
    ConfigSection,
    GatewayConfig,
    SetAside,
    decode_config,
)
from contract.sealing import generate_keypair, unseal
from fleet.db.models import Gateway
from fleet.db.session import utcnow
from fleet.settings import FleetSettings
from silverguard.servers.mosquitto import MosquittoServer
from tests.fleet.helpers import Api, district, enroll, make_app
from tests.waiting import until

KEY = "00112233445566778899aabbccddeeff"
KEY2 = "8899aabbccddeeff0011223344556677"


def mqtt_client(answer: dict[str, Any]) -> aiomqtt.Client:
    mqtt = answer["mqtt"]
    return aiomqtt.Client(
        mqtt["host"],
        mqtt["port"],
        username=mqtt["username"],
        password=mqtt["password"],
        identifier=answer["gateway_id"],
        protocol=aiomqtt.ProtocolVersion.V5,
    )


async def config_with(client: aiomqtt.Client, want: int, timeout: float = 20.0) -> GatewayConfig:
    """The first retained/pushed config on the subscribed topic with version >= want."""
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            # Read with the gateway's own code, as the gateway reads it.
            config = decode_config(bytes(message.payload), str(message.topic).split("/")[3]).config  # type: ignore[arg-type]
            if config.version >= want:
                return config
    raise AssertionError("unreachable")


async def test_enrollment_gives_own_credentials_and_a_sealed_first_config(papi: Api):
    district(papi)
    papi.admin.ok(
        "post",
        "/api/v1/wristbands",
        {"mac": "C2:00:00:00:00:01", "bind_key": KEY, "resident_id": "r-1"},
        201,
    )
    answer, private_key = enroll(papi, "gw-a", ["c-xingfu"])
    assert answer["gateway_id"] == "gw-a"
    assert answer["mqtt"]["username"] == "gw-a"
    assert answer["mqtt"]["tls"] is False
    assert answer["ca_cert"] == ""
    # Read with the gateway's own code, as the gateway reads it.
    first = decode_config(json.dumps(answer["config"]).encode(), "gw-a").config
    assert first.version == 1
    (band,) = first.bands
    assert band.mac == "C2:00:00:00:00:01"
    assert band.resident == "r-1"
    assert unseal(private_key, band.sealed_key) == bytes.fromhex(KEY)
    (resident,) = first.residents
    assert resident.plan == CarePlan.model_validate(
        {
            "active_hours": {"start": "07:00", "end": "21:30"},
            "inactivity_s": 7200,
            "medication": [{"id": "am", "time": "08:00"}],  # the medicine's name stays home
        }
    )
    assert "降压药" not in json.dumps(answer["config"], ensure_ascii=False)
    assert resident.sealed_contacts is not None
    assert json.loads(unseal(private_key, resident.sealed_contacts)) == ["+8613800000001"]

    # The same config is published retained on the gateway's own topic.
    async with mqtt_client(answer) as client:
        await client.subscribe(str(Topic("gw-a", TopicKind.CONFIG)), qos=1)
        retained = await config_with(client, 1)
    assert retained.gateway == "gw-a"
    assert unseal(private_key, retained.bands[0].sealed_key) == bytes.fromhex(KEY)

    gateway = papi.admin.ok("get", "/api/v1/gateways/gw-a")
    assert gateway["state"] == "enrolled"
    assert gateway["desired_version"] == 1
    assert gateway["enrollment_expires_at"] is None

    # The token was for one use only.
    _, public_key = generate_keypair()
    again = papi.client.post(
        "/api/v1/enroll", json={"token": "sge_" + "x" * 32, "public_key": public_key}
    )
    assert again.status_code == 403


def test_expired_or_reused_tokens_are_refused(papi: Api):
    district(papi)
    created = papi.admin.ok(
        "post", "/api/v1/gateways", {"id": "gw-late", "communities": ["c-xingfu"]}, 201
    )
    with papi.fleet.sessions.begin() as session:
        session.execute(
            sa.update(Gateway)
            .where(Gateway.id == "gw-late")
            .values(enrollment_expires_at=utcnow() - timedelta(seconds=1))
        )
    _, public_key = generate_keypair()
    late = papi.client.post(
        "/api/v1/enroll", json={"token": created["enrollment_token"], "public_key": public_key}
    )
    assert late.status_code == 403
    assert "expired" in late.json()["detail"]
    bad_key = papi.client.post(
        "/api/v1/enroll", json={"token": created["enrollment_token"], "public_key": "A" * 44}
    )
    assert bad_key.status_code in (403, 422)

    fresh = papi.admin.ok("post", "/api/v1/gateways/gw-late/enrollment-token", {})
    ok = papi.client.post(
        "/api/v1/enroll", json={"token": fresh["enrollment_token"], "public_key": public_key}
    )
    assert ok.status_code == 200
    reused = papi.client.post(
        "/api/v1/enroll", json={"token": fresh["enrollment_token"], "public_key": public_key}
    )
    assert reused.status_code == 403
    assert "already used" in reused.json()["detail"]


async def test_changes_bump_and_republish_only_the_covering_gateways_config(papi: Api):
    district(papi)
    answer, private_key = enroll(papi, "gw-a", ["c-xingfu"])
    admin = papi.admin
    async with mqtt_client(answer) as client:
        await client.subscribe(str(Topic("gw-a", TopicKind.CONFIG)), qos=1)
        assert (await config_with(client, 1)).bands == []

        admin.ok(
            "post",
            "/api/v1/wristbands",
            {"mac": "C2:00:00:00:00:01", "bind_key": KEY, "resident_id": "r-1"},
            201,
        )
        v2 = await config_with(client, 2)
        assert [b.mac for b in v2.bands] == ["C2:00:00:00:00:01"]

        # A band in a community gw-a does not cover changes nothing for it.
        admin.ok(
            "post",
            "/api/v1/wristbands",
            {"mac": "C2:00:00:00:00:02", "bind_key": KEY2, "resident_id": "r-2"},
            201,
        )
        assert admin.ok("get", "/api/v1/gateways/gw-a")["desired_version"] == 2

        # Moving that band to r-1's community would give r-1 two bands: refused.
        assert (
            admin.post(
                "/api/v1/wristbands/C2:00:00:00:00:02/assign", {"resident_id": "r-1"}
            ).status_code
            == 409
        )
        admin.ok("patch", "/api/v1/residents/r-1", {"care_plan": {"inactivity_s": 3600}})
        v3 = await config_with(client, 3)
        assert v3.residents[0].plan.inactivity_s == 3600

        admin.ok("post", "/api/v1/wristbands/C2:00:00:00:00:01/retire")
        v4 = await config_with(client, 4)
        assert v4.bands == []

        admin.ok(
            "patch",
            "/api/v1/gateways/gw-a",
            {"communities": ["c-xingfu", "c-heping"], "rules": {"fall": {"confirm_window_s": 45}}},
        )
        v5 = await config_with(client, 5)
        assert v5.rules.fall.confirm_window_s == 45

        # The gateway reports what it runs, and the part it set aside; the API shows
        # desired against reported.
        report = ConfigReport(
            gateway="gw-a",
            version=5,
            ok=True,
            set_aside=[SetAside(section=ConfigSection.METERS, name="m-1", reason="no such port")],
        )
        await client.publish(str(Topic("gw-a", TopicKind.CONFIG_REPORTED)), encode(report), qos=1)

        def reported() -> dict[str, Any]:
            return admin.ok("get", "/api/v1/gateways/gw-a")

        await until(lambda: reported()["reported_version"] == 5, 20, "the report recorded", 0.1)
        state = reported()
        assert state["desired_version"] == 5
        assert state["config_in_sync"] is True
        assert state["reported_set_aside"] == [
            {"section": "meters", "name": "m-1", "reason": "no such port"}
        ]
        assert state["reported_ok"] is True
    assert unseal(private_key, v2.bands[0].sealed_key) == bytes.fromhex(KEY)


async def test_the_brokers_persisted_store_never_holds_a_bind_key_in_clear(
    papi: Api, broker: MosquittoServer
):
    district(papi)
    papi.admin.ok(
        "post",
        "/api/v1/wristbands",
        {"mac": "C2:00:00:00:00:01", "bind_key": KEY, "resident_id": "r-1"},
        201,
    )
    answer, _ = enroll(papi, "gw-store", ["c-xingfu"])
    async with mqtt_client(answer) as client:
        await client.subscribe(str(Topic("gw-store", TopicKind.CONFIG)), qos=1)
        await config_with(client, 1)
    store = broker.workdir / "mosquitto.db"
    # autosave_on_changes writes the store soon after the retained config arrives.
    await until(
        lambda: store.exists() and b"sg/v1/gw/gw-store/config" in store.read_bytes(),
        20,
        "the broker persisting the retained config",
        0.1,
    )
    data = store.read_bytes()
    assert b"sealed_key" in data
    assert KEY.encode() not in data
    assert bytes.fromhex(KEY) not in data


def test_enrollment_while_the_broker_is_down_keeps_the_token(
    settings: FleetSettings, tmp_path: Any
):

    settings = settings.model_copy(
        update={
            "provisioning": settings.provisioning.model_copy(
                update={"dynsec_username": "sg-admin", "broker_timeout_s": 2.0}
            )
        }
    )
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        district(api)
        created = api.admin.ok(
            "post", "/api/v1/gateways", {"id": "gw-wait", "communities": ["c-xingfu"]}, 201
        )
        _, public_key = generate_keypair()
        refused = client.post(
            "/api/v1/enroll", json={"token": created["enrollment_token"], "public_key": public_key}
        )
        assert refused.status_code == 503
        assert "still valid" in refused.json()["detail"]
        with api.fleet.sessions() as session:
            gateway = session.get(Gateway, "gw-wait")
            assert gateway is not None
            assert gateway.enrollment_token_hash is not None
            assert gateway.state == "created"


@pytest.mark.parametrize("gateway_id", ["fleet"])
def test_a_gateway_cannot_take_the_fleets_broker_name(papi: Api, gateway_id: str):
    response = papi.admin.post("/api/v1/gateways", {"id": gateway_id})
    assert response.status_code == 422
