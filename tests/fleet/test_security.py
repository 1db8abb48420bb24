"""Each gateway is confined to its own topics, a revoked one is out at once, and a
caregiver sees nobody else's resident — checked against the real broker."""

import asyncio
import contextlib
import uuid
from typing import Any

import aiomqtt
import pytest

from contract import Topic, TopicKind
from fleet.auth import Role
from silverguard.servers.mosquitto import MosquittoServer
from tests.fleet.helpers import Api, district, enroll

KEY = "00112233445566778899aabbccddeeff"


def client_for(answer: dict[str, Any], identifier: str | None = None) -> aiomqtt.Client:
    mqtt = answer["mqtt"]
    return aiomqtt.Client(
        mqtt["host"],
        mqtt["port"],
        username=mqtt["username"],
        password=mqtt["password"],
        identifier=identifier or answer["gateway_id"],
        protocol=aiomqtt.ProtocolVersion.V5,
    )


def refused(granted: Any) -> bool:
    """An MQTT 5 SUBACK reason code of 0x80 or more means the subscription was refused."""
    (code,) = granted
    value = getattr(code, "value", code)
    return int(value) >= 0x80


async def test_a_gateway_cannot_publish_under_another_gateways_topics(
    papi: Api, broker: MosquittoServer
):
    district(papi)
    a, _ = enroll(papi, "gw-a", ["c-xingfu"])
    enroll(papi, "gw-b", ["c-nanhu"])
    observing = broker.add_fleet(f"observer-{uuid.uuid4().hex[:6]}")
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=observing.username,
        password=observing.password,
        identifier=observing.client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as observer:
        await observer.subscribe("sg/v1/gw/+/health", qos=1)
        await observer.subscribe("sg/v1/gw/+/event", qos=1)
        async with client_for(a) as gateway_a:
            for topic in (
                str(Topic("gw-b", TopicKind.EVENT)),
                str(Topic("gw-b", TopicKind.HEALTH)),
                str(Topic("gw-b", TopicKind.CONFIG)),
                "sg/v1/gw/gw-b/anything",
                "elsewhere/entirely",
            ):
                # A refusal in the PUBACK is as good as a silent drop.
                with contextlib.suppress(aiomqtt.MqttCodeError):
                    await gateway_a.publish(topic, b"forged by gw-a", qos=1)
            # Then something A may send: once it arrives, anything forged before it
            # on the same connection would have arrived first.
            await gateway_a.publish(str(Topic("gw-a", TopicKind.HEALTH)), b"marker", qos=1)
            seen = []
            async with asyncio.timeout(10):
                async for message in observer.messages:
                    seen.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
                    if message.payload == b"marker":
                        break
    assert seen == [("sg/v1/gw/gw-a/health", b"marker")]


async def test_a_gateway_cannot_read_another_gateways_config(papi: Api):
    district(papi)
    papi.admin.ok(
        "post",
        "/api/v1/wristbands",
        {"mac": "C2:00:00:00:00:02", "bind_key": KEY, "resident_id": "r-2"},
        201,
    )
    a, _ = enroll(papi, "gw-a", ["c-xingfu"])
    enroll(papi, "gw-b", ["c-nanhu"])
    async with client_for(a) as gateway_a:
        assert refused(await gateway_a.subscribe(str(Topic("gw-b", TopicKind.CONFIG)), qos=1))
        assert refused(await gateway_a.subscribe("sg/v1/gw/+/config", qos=1))
        assert refused(await gateway_a.subscribe("#", qos=1))
        assert not refused(await gateway_a.subscribe(str(Topic("gw-a", TopicKind.CONFIG)), qos=1))
        # Retained messages follow each SUBACK in order: the first to come is A's own.
        async with asyncio.timeout(20):
            message = await anext(aiter(gateway_a.messages))
    assert str(message.topic) == "sg/v1/gw/gw-a/config"


async def test_a_revoked_gateway_is_disconnected_and_cannot_reconnect(papi: Api):
    district(papi)
    a, _ = enroll(papi, "gw-a", ["c-xingfu"])
    b, _ = enroll(papi, "gw-b", ["c-nanhu"])
    revoked: list[dict[str, Any]] = []

    async def connected_while_revoked() -> None:
        async with client_for(a) as gateway_a:
            await gateway_a.subscribe(str(Topic("gw-a", TopicKind.CMD)), qos=1)
            response = await asyncio.to_thread(papi.admin.post, "/api/v1/gateways/gw-a/revoke")
            assert response.status_code == 200, response.text
            revoked.append(response.json())
            async with asyncio.timeout(10):
                async for _ in gateway_a.messages:
                    pass  # the broker drops the connection: MqttError ends this

    async with client_for(b) as gateway_b:
        with pytest.raises(aiomqtt.MqttError):
            await connected_while_revoked()
        assert revoked[0]["state"] == "revoked"
        assert revoked[0]["broker_synced"] is True
        with pytest.raises(aiomqtt.MqttError, match=r"(?i)not authori[sz]ed|refused|banned"):
            await client_for(a).__aenter__()
        # Gateway B is untouched.
        await gateway_b.publish(str(Topic("gw-b", TopicKind.HEALTH)), b"still here", qos=1)
    audit = papi.admin.ok("get", "/api/v1/audit?action=gateway.revoke")
    assert [e["target"] for e in audit] == ["gw-a"]
    assert papi.admin.post("/api/v1/gateways/gw-a/revoke").status_code == 409


def test_a_caregiver_gets_404_for_a_resident_not_theirs_and_403_for_staff_actions(api: Api):
    district(api)
    carer = api.as_("cg-1", Role.CAREGIVER)
    assert carer.get("/api/v1/residents/r-2").status_code == 404
    assert carer.get("/api/v1/residents/r-1").status_code == 200
    assert carer.patch("/api/v1/residents/r-2", {"address": "x"}).status_code == 403
    assert (
        carer.post("/api/v1/wristbands", {"mac": "C2:00:00:00:00:09", "bind_key": KEY}).status_code
        == 403
    )
    assert carer.get("/api/v1/audit").status_code == 403
    assert carer.get("/api/v1/users").status_code == 403
