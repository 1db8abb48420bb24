"""The broker's side, tried from outside: who may connect as whom, publish and read what.

Every account is pinned to its own client id (dynamic security's ``clientid``), so a
stolen gateway credential can neither take the fleet's session (which knocked the fleet
off the broker and handed the impostor other gateways' queued messages) nor another
gateway's; and the ACL keeps it to its own topics.
"""

import asyncio
import contextlib
from typing import Any

import aiomqtt
import pytest

from contract import EventKind, Topic, TopicKind, encode
from tests.security.world import BAND_A, BAND_B, GW_A, GW_B, World, incident

pytestmark = [pytest.mark.security, pytest.mark.e2e]

NOT_AUTHORISED = r"(?i)not authori[sz]ed|refused|bad user name or password"


def refused(granted: Any) -> bool:
    """An MQTT 5 SUBACK reason code of 0x80 or more: the subscription was refused."""
    (code,) = granted
    return int(getattr(code, "value", code)) >= 0x80


async def test_an_impostor_cannot_take_the_fleets_client_id(world: World):
    fleet_id = world.stack.fleet_credentials.client_id  # type: ignore[union-attr]
    assert fleet_id.startswith("fleet-")
    assert len(fleet_id) > len("fleet-") + 12  # random, not the host name
    # With a stolen gateway credential, or none at all: refused at CONNECT.
    with pytest.raises(aiomqtt.MqttError, match=NOT_AUTHORISED):
        async with world.gateway(GW_A, identifier=fleet_id):
            pass
    anonymous = aiomqtt.Client(
        world.stack.mosquitto.host,
        world.stack.mosquitto.port,
        identifier=fleet_id,
        protocol=aiomqtt.ProtocolVersion.V5,
    )
    with pytest.raises(aiomqtt.MqttError, match=NOT_AUTHORISED):
        async with anonymous:
            pass
    # The fleet was not knocked off: it still hears the gateways.
    assert (await world.health())["broker"] == "ok"
    await world.send_events(GW_B, incident(EventKind.SOS, BAND_B, GW_B, 1))
    await world.wait_notified("fam-b")
    log = (world.stack.fleet_dir / "fleet.log").read_text()
    assert "broker connection lost" not in log


async def test_a_gateway_account_connects_only_with_its_own_client_id(world: World):
    for identifier in (GW_B, f"{GW_A}-2", "fleet-sim-1"):
        with pytest.raises(aiomqtt.MqttError, match=NOT_AUTHORISED):
            async with world.gateway(GW_A, identifier=identifier):
                pass
    async with world.gateway(GW_A) as own:  # its own id works
        await own.publish(
            str(Topic(GW_A, TopicKind.EVENT)),
            encode(incident(EventKind.SOS, BAND_A, GW_A, 1)),
            qos=1,
        )
    await world.wait_notified("fam-a")


async def test_a_gateway_can_publish_and_read_only_its_own_topics(world: World):
    before = (await world.health())["ingest"].get("events", 0)
    async with world.fleet_side("observer") as observer:
        await observer.subscribe("sg/v1/gw/+/event", qos=1)
        async with world.gateway(GW_A) as gateway_a:
            forged = encode(incident(EventKind.SOS, BAND_B, GW_B, 9))
            for topic in (
                str(Topic(GW_B, TopicKind.EVENT)),
                str(Topic(GW_B, TopicKind.STATUS)),
                str(Topic(GW_B, TopicKind.CONFIG)),
                "sg/v1/gw/gw-b/event/ack",
                "$CONTROL/dynamic-security/v1",
            ):
                # A refusal in the PUBACK (MQTT 5 reason 135) is as good as a drop.
                with contextlib.suppress(aiomqtt.MqttCodeError):
                    await gateway_a.publish(topic, forged, qos=1)
            for pattern in (
                str(Topic(GW_B, TopicKind.CONFIG)),
                str(Topic(GW_B, TopicKind.EVENT_ACK)),
                "sg/v1/gw/+/config",
                "sg/v1/gw/#",
                "#",
                "$share/fleet/sg/v1/gw/+/event",
            ):
                assert refused(await gateway_a.subscribe(pattern, qos=1)), pattern
            # A marker on its own topic: anything forged before it would have come first.
            marker = encode(incident(EventKind.SOS, BAND_A, GW_A, 2))
            await gateway_a.publish(str(Topic(GW_A, TopicKind.EVENT)), marker, qos=1)
            seen = []
            async with asyncio.timeout(15):
                async for message in observer.messages:
                    seen.append(str(message.topic))
                    if message.payload == marker:
                        break
            # Nothing reached A's subscriptions either (they were all refused).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    async for message in gateway_a.messages:
                        raise AssertionError(f"gw-a received {message.topic}")
    assert seen == [str(Topic(GW_A, TopicKind.EVENT))]
    await world.wait_notified("fam-a")
    assert world.receiver.delivered("fam-b") == []
    assert (await world.health())["ingest"]["events"] == before + 1
