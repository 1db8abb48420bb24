"""An SOS press reaches a caregiver through the real servers, once."""

import asyncio
import contextlib
import time

import aiomqtt
import pytest

from contract import EventAck, Topic, TopicKind, decode, encode
from firmware_mocks.population import Population
from firmware_mocks.wristband import Button
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import Stack
from tests.factories import event
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_sos_press_reaches_the_caregiver_once(stack: Stack, receiver: Receiver):
    # Between the two gateways (at x=0 and x=12): every band is heard by both.
    homes = [(3.0, 0.0), (9.0, 1.0), (4.0, 2.0), (8.0, 2.0)]
    population = Population.generate(stack.air, 4, homes=homes, interval_s=0.5, routines=False)
    sos_band = population.bands[0].band
    await stack.register_population(
        population, {sos_band.mac: [receiver.url("caregiver")]}, locale="en"
    )
    await stack.start_gateways()
    advertising = asyncio.create_task(population.run())
    api = stack.api
    assert api is not None
    try:
        # The band's battery reaches InfluxDB (status frames come every 10 adverts).
        async def battery_in_influx():  # type: ignore[no-untyped-def]
            result = await stack.influx_query(
                f"SELECT last(battery) FROM wristband WHERE device = '{sos_band.mac}'"
            )
            series = result["results"][0].get("series")
            return series[0]["values"][0][1] if series else None

        battery = await eventually(battery_in_influx, what="the band's battery in InfluxDB")
        assert battery == sos_band.battery
        # Both gateways report the band; the fleet keeps the nearer one's readings only
        # (the farther one's may be kept once, if it was heard first).
        counts = await stack.influx_query(
            f"SELECT count(rssi) FROM wristband WHERE device = '{sos_band.mac}' GROUP BY gateway"
        )
        per_gateway = {
            s["tags"]["gateway"]: s["values"][0][1] for s in counts["results"][0]["series"]
        }
        assert per_gateway.get("gw-02", 0) <= 1
        assert per_gateway["gw-01"] >= 1
        health = (await api.get("/health")).json()
        assert health["telemetry"]["other_source"] > 0

        pressed_at = time.time()
        population.press(sos_band.mac, Button.LONG)
        (notification,) = await asyncio.to_thread(
            receiver.wait_for, 1, path="caregiver", timeout=30
        )
        print(
            f"\nSOS press -> caregiver notification: {1000 * (notification.at - pressed_at):.0f} ms"
        )
        assert "SOS" in notification.body["title"]
        assert "/ack/v1." in notification.body["message"]

        # The delivery is recorded just after the provider answered.
        async def notified():  # type: ignore[no-untyped-def]
            listed = (await api.get("/api/v1/alerts")).json()
            return listed if listed and listed[0]["state"] == "notified" else None

        alerts = await eventually(notified, what="the alert marked notified")
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert["kind"] == "sos"
        assert alert["device"] == sos_band.mac

        # Both gateways hear the band and every copy is repeated: still one alert.
        async def both_gateways_sent_it():  # type: ignore[no-untyped-def]
            health = (await api.get("/health")).json()
            return health["ingest"].get("events_duplicate", 0) >= 1

        await eventually(both_gateways_sent_it, what="a duplicate copy of the event")

        acked = await api.post(f"/api/v1/alerts/{alert['id']}/ack")
        assert acked.status_code == 200
        assert acked.json()["state"] == "acknowledged"
        assert acked.json()["acknowledged_by"] == "admin:sim-admin"
        detail = (await api.get(f"/api/v1/alerts/{alert['id']}")).json()
        assert [entry["action"] for entry in detail["timeline"]][:1] == ["opened"]
        assert "acknowledged" in [entry["action"] for entry in detail["timeline"]]
        # One offer; whatever follows is the dispatch task's news (no acknowledge link).
        offers = [r for r in receiver.delivered("caregiver") if "/ack/" in r.body["message"]]
        assert len(offers) == 1
    finally:
        advertising.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await advertising


async def test_redelivered_event_creates_no_second_alert_and_is_acknowledged_again(
    stack: Stack, receiver: Receiver
):
    population = Population.generate(stack.air, 1, routines=False)
    band = population.bands[0].band
    await stack.register_population(population, {band.mac: [receiver.url("caregiver")]})
    creds = stack.gateway_credentials["gw-01"]
    now = time.time()
    sos = event(device=band.mac, gateway="gw-01", occurred_at=now, detected_at=now)
    api = stack.api
    assert api is not None
    async with aiomqtt.Client(
        stack.mosquitto.host,
        stack.mosquitto.port,
        username=creds.username,
        password=creds.password,
        identifier=creds.client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        await client.subscribe(str(Topic("gw-01", TopicKind.EVENT_ACK)), qos=1)
        for _ in range(3):  # the gateway did not see the ack and sends it again
            await client.publish(str(Topic("gw-01", TopicKind.EVENT)), encode(sos), qos=1)
        acks = []
        async with asyncio.timeout(20):
            async for message in client.messages:
                acks += decode(message.payload, EventAck).ids  # type: ignore[arg-type]
                if len(acks) == 3:
                    break
    # Each ack is sent after the commit, so all three copies are settled by now.
    assert acks == [sos.id] * 3
    alerts = (await api.get("/api/v1/alerts")).json()
    assert len(alerts) == 1
    await asyncio.to_thread(receiver.wait_for, 1, timeout=30)
    detail = (await api.get(f"/api/v1/alerts/{alerts[0]['id']}")).json()
    assert [e["action"] for e in detail["timeline"]].count("opened") == 1


async def test_invalid_payload_is_parked_and_the_consumer_keeps_going(
    stack: Stack, receiver: Receiver
):
    population = Population.generate(stack.air, 1, routines=False)
    band = population.bands[0].band
    await stack.register_population(population, {band.mac: [receiver.url("caregiver")]})
    creds = stack.gateway_credentials["gw-01"]
    api = stack.api
    assert api is not None
    async with aiomqtt.Client(
        stack.mosquitto.host,
        stack.mosquitto.port,
        username=creds.username,
        password=creds.password,
        identifier=creds.client_id,
    ) as client:
        topic = str(Topic("gw-01", TopicKind.EVENT))
        await client.publish(topic, b"\xff not json", qos=1)
        await client.publish(topic, b'{"v": 1, "id": "x"}', qos=1)
        now = time.time()
        await client.publish(
            topic,
            encode(event(device=band.mac, gateway="gw-02", occurred_at=now, detected_at=now)),
            qos=1,
        )  # spoofed
        await client.publish(
            topic,
            encode(event(device=band.mac, gateway="gw-01", occurred_at=now, detected_at=now)),
            qos=1,
        )

    await asyncio.to_thread(receiver.wait_for, 1, timeout=30)
    health = (await api.get("/health")).json()
    assert health["ingest"]["refused"] == 3
    assert health["refused"]["gw-01"] == {"invalid": 2, "wrong_gateway": 1}
    assert health["dead_letters"]["parked"] == 3
    assert health["ingest"]["events"] == 1
    assert len((await api.get("/api/v1/alerts")).json()) == 1
