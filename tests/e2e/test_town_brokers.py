"""Past one broker: two town brokers bridged to a central one (three Mosquittos), the
gateways spread over the towns, the fleet on the central broker.

What gateways send reaches the fleet from both towns (events become alerts, readings
are stored) and what the fleet sends comes back to the right gateway only
(acknowledgements, the retained config), over bridges that log in with accounts of
their own, over TLS, that speak only for their own town's gateways.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path

import aiomqtt
import pytest

from contract import EventAck, EventKind, Reading, TelemetryBatch, Topic, TopicKind, decode, encode
from contract.acl import bridge_acls
from contract.config import GatewayConfig
from silverguard.servers.bridge import Bridge
from silverguard.servers.mosquitto import Credentials, MosquittoServer
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack
from tests.e2e.alerting_world import build, critical
from tests.waiting import eventually, until

pytestmark = [pytest.mark.e2e]

TOWNS = {"town-a": ["gw-a1", "gw-a2"], "town-b": ["gw-b1"]}


@asynccontextmanager
async def town_brokers(stack: Stack, workdir: Path) -> AsyncIterator[dict[str, MosquittoServer]]:
    central = stack.mosquitto
    assert central.tls_port is not None
    assert central.tls_files is not None
    towns: dict[str, MosquittoServer] = {}
    try:
        for town, gateways in TOWNS.items():
            account = await asyncio.to_thread(
                central.add_client, f"bridge-{town}", bridge_acls(gateways)
            )
            bridge = Bridge(
                f"bridge-{town}",
                central.host,
                central.tls_port,  # the gateways' TLS listener, verified with its CA
                account,
                ca_file=central.tls_files.ca_file,
            )
            broker = MosquittoServer(workdir / town, bridge_lines=bridge.config_lines())
            towns[town] = await asyncio.to_thread(broker.start)
        yield towns
    finally:
        for broker in towns.values():
            await asyncio.to_thread(broker.stop)


def client(broker: MosquittoServer, creds: Credentials) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=creds.username,
        password=creds.password,
        identifier=creds.client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
    )


async def test_two_towns_bridged_to_the_fleet_s_broker(tmp_path: Path, receiver: Receiver) -> None:
    specs = [GatewaySpec(g, (0.0, 0.0)) for gateways in TOWNS.values() for g in gateways]
    async with (
        Stack(tmp_path / "stack", specs) as stack,
        town_brokers(stack, tmp_path / "towns") as towns,
    ):
        api = stack.api
        assert api is not None
        bands = await build(
            stack,
            residents=3,
            family=[receiver.url("family")],
            worker=[receiver.url("grid")],
            duty=[receiver.url("duty")],
            policy=None,
        )
        # Every gateway logs in to its own town's broker, with an account made there.
        home = {g: town for town, gateways in TOWNS.items() for g in gateways}
        creds = {g: await asyncio.to_thread(towns[home[g]].add_gateway, g) for g in home}
        received: dict[str, list[tuple[str, bytes]]] = {g: [] for g in home}

        async with AsyncExitStack() as stack_of_clients:
            clients = {
                g: await stack_of_clients.enter_async_context(client(towns[home[g]], creds[g]))
                for g in home
            }
            for g, c in clients.items():
                for kind in (TopicKind.EVENT_ACK, TopicKind.CONFIG):
                    await c.subscribe(str(Topic(g, kind)), qos=1)

                async def listen(g: str = g, c: aiomqtt.Client = c) -> None:
                    async for message in c.messages:
                        received[g].append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]

                stack_of_clients.push_async_callback(_cancel, asyncio.create_task(listen()))

            # Events from both towns: one alert each, acknowledged to the sender only.
            events = {
                "gw-a1": critical(bands[0], EventKind.SOS, 1, time.time(), "gw-a1"),
                "gw-b1": critical(bands[1], EventKind.SOS, 1, time.time(), "gw-b1"),
            }
            for g, event in events.items():
                await clients[g].publish(str(Topic(g, TopicKind.EVENT)), encode(event), qos=1)

            def acked(g: str) -> list[str]:
                return [
                    i
                    for topic, payload in received[g]
                    if topic.endswith("/event/ack")
                    for i in decode(payload, EventAck).ids
                ]

            for g, event in events.items():
                await until(lambda g=g: acked(g), 30, f"the fleet's ack back to {g}")
                assert acked(g) == [event.id]
            assert acked("gw-a2") == []

            async def alerts() -> list[str]:
                listed = (await api.get("/api/v1/alerts")).json()
                return sorted(a["resident_id"] for a in listed) if len(listed) == 2 else []

            assert await eventually(alerts, 30, "an alert from each town") == ["r-1", "r-2"]

            # Telemetry from both towns, stored with the gateway that sent it.
            now = time.time()
            for n, g in enumerate(("gw-a2", "gw-b1")):
                batch = TelemetryBatch(
                    gateway=g,
                    seq=1,
                    readings=[
                        Reading(device=bands[2], ts=now - 10 + n * 5 + i, fields={"steps": i})
                        for i in range(5)
                    ],
                )
                await clients[g].publish(str(Topic(g, TopicKind.TELEMETRY)), encode(batch), qos=1)

            async def per_gateway() -> dict[str, int]:
                result = await stack.influx_query(
                    "SELECT count(steps) FROM wristband GROUP BY gateway"
                )
                series = result["results"][0].get("series", [])
                counts = {s["tags"]["gateway"]: s["values"][0][1] for s in series}
                return counts if sum(counts.values()) == 10 else {}

            assert await eventually(per_gateway, 30, "readings from both towns") == {
                "gw-a2": 5,
                "gw-b1": 5,
            }

            # A town broker speaks for its own gateways only: an account for town-b's
            # gateway made on town-a's broker (by mistake, or by an intruder) gets
            # nothing through the bridge. Readings sent after it on the same bridge
            # arrive, so it had its chance.
            rogue_creds = await asyncio.to_thread(towns["town-a"].add_gateway, "gw-b1")
            async with client(towns["town-a"], rogue_creds) as rogue:
                forged = critical(bands[2], EventKind.SOS, 9, time.time(), "gw-b1")
                await rogue.publish(str(Topic("gw-b1", TopicKind.EVENT)), encode(forged), qos=1)
            marker = TelemetryBatch(
                gateway="gw-a1",
                seq=2,
                readings=[Reading(device=bands[0], ts=time.time(), fields={"steps": 99})],
            )
            await clients["gw-a1"].publish(
                str(Topic("gw-a1", TopicKind.TELEMETRY)), encode(marker), qos=1
            )

            async def marker_stored() -> bool:
                result = await stack.influx_query("SELECT count(steps) FROM wristband")
                return bool(result["results"][0]["series"][0]["values"][0][1] == 11)

            await eventually(marker_stored, 30, "the reading sent after the forged event")
            assert await alerts() == ["r-1", "r-2"]

            # Config: the fleet publishes it (retained) on the central broker when a
            # gateway is enrolled; it reaches that gateway in its town, and no other.
            await stack.enroll_gateway("gw-b1")

            def configs(g: str) -> list[GatewayConfig]:
                return [
                    GatewayConfig.model_validate_json(payload)
                    for topic, payload in received[g]
                    if topic.endswith("/config")
                ]

            (config,) = await until(lambda: configs("gw-b1"), 30, "gw-b1's config via town-b")
            assert config.gateway == "gw-b1"
            assert {b.mac for b in config.bands} == set(bands)
            assert configs("gw-a1") == []
            assert configs("gw-a2") == []

        # Retained on the town broker too: a gateway that connects later gets it at once.
        async with client(towns["town-b"], creds["gw-b1"]) as late:
            await late.subscribe(str(Topic("gw-b1", TopicKind.CONFIG)), qos=1)
            async with asyncio.timeout(10):
                message = await anext(aiter(late.messages))
            assert message.retain
            assert GatewayConfig.model_validate_json(bytes(message.payload)).gateway == "gw-b1"  # type: ignore[arg-type]


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
