"""A stolen gateway credential against the fleet's ingest, from outside (MQTT and HTTP).

Each attack of issue 12 that used to work: it is refused now (parked, counted, told to
staff), and the genuine message that follows still does what it should.
"""

import json
import time
from typing import Any

import msgspec
import pytest

from contract import EventKind, Severity, TopicKind, encode, event_id
from tests.security.world import BAND_A, BAND_B, GW_A, GW_B, World, incident, reading, telemetry
from tests.waiting import eventually

pytestmark = [pytest.mark.security, pytest.mark.e2e]


def as_json(event: Any, **changes: Any) -> bytes:
    body = msgspec.to_builtins(event)
    body.update(changes)
    return json.dumps(body).encode()


async def test_no_message_stops_the_fleet_and_a_real_sos_from_another_gateway_alerts(
    world: World,
):
    sos_a = incident(EventKind.SOS, BAND_A, GW_A, 7)
    deep = ('{"a":' * 2000 + "1" + "}" * 2000).encode()
    poison = [
        as_json(sos_a, occurred_at=1e12),  # made _ts() raise ValueError in the consumer
        as_json(sos_a, detected_at=float("1e308")),
        as_json(sos_a)[:-1] + b',"evidence":' + deep + b"}",  # RecursionError at decode
        as_json(sos_a, evidence={"x": "y" * 300_000}),  # larger than a message may be
        b'{"v": 1, "id": NaN}',
        b"\xff\xfe not json at all",
    ]
    await world.send(GW_A, TopicKind.EVENT, *poison)
    await world.send(
        GW_A,
        TopicKind.TELEMETRY,
        b'{"v":1,"gateway":"gw-a","seq":1,"readings":[' + b"[" * 3000 + b"]" * 3000 + b"]}",
    )
    ahead = time.time() + 3600  # within the contract's years, an hour ahead of the fleet
    await world.send(
        GW_A,
        TopicKind.HEALTH,
        f'{{"v":1,"gateway":"gw-a","ts":{ahead},"uptime_s":1}}'.encode(),
    )
    await world.parked(GW_A, "invalid", at_least=len(poison) + 1)

    # The fleet is still listening: a real SOS from the other town's gateway alerts.
    await world.send_events(GW_B, incident(EventKind.SOS, BAND_B, GW_B, 1))
    (message,) = await world.wait_notified("fam-b")
    assert "SOS" in message.body["title"]
    # ... and so does one from the very gateway that sent the poison.
    await world.send_events(GW_A, sos_a)
    await world.wait_notified("fam-a")

    health = await world.health()
    assert health["broker"] == "ok"
    assert all(t["state"] == "running" and t["restarts"] == 0 for t in health["tasks"].values())
    assert health["refused"][GW_A]["invalid"] == len(poison) + 1
    assert health["refused"][GW_A]["future_timestamp"] == 1  # the heartbeat an hour ahead
    assert GW_B not in health["refused"]
    letters = await world.dead_letters(gateway=GW_A)
    assert {row["cause"] for row in letters} == {"invalid", "future_timestamp"}
    assert all(row["error"] for row in letters)


async def test_a_gateway_cannot_raise_an_alert_for_a_resident_it_does_not_cover(world: World):
    foreign = incident(EventKind.SOS, BAND_B, GW_A, 1)
    await world.send_events(GW_A, foreign)
    (letter,) = await world.parked(GW_A, "not_covered")
    assert BAND_B in letter["error"]
    assert await world.alerts() == []
    # The real one, from the gateway that covers her: one alert, her family called once.
    await world.send_events(GW_B, incident(EventKind.SOS, BAND_B, GW_B, 1))
    await world.wait_notified("fam-b")
    (alert,) = await world.alerts()
    assert (alert["device"], alert["community_id"]) == (BAND_B, "c-b")
    assert world.receiver.delivered("fam-a") == []
    assert len(world.receiver.delivered("fam-b")) == 1


async def test_a_gateway_cannot_raise_or_resolve_residents_unprotected(world: World):
    now = time.time()
    for kind in (EventKind.GATEWAY_OFFLINE, EventKind.GATEWAY_ONLINE):
        for device in (GW_B, GW_A):
            forged = incident(kind, device, GW_A, repr(now), severity=Severity.HIGH)
            await world.send_events(GW_A, forged)
    await world.parked(GW_A, "fleet_only_kind", at_least=4)
    assert await world.alerts() == []
    # The gateway's own honest event still goes through.
    await world.send_events(GW_A, incident(EventKind.SOS, BAND_A, GW_A, 3))
    await world.wait_notified("fam-a")


async def test_a_gateway_cannot_resolve_another_towns_missed_dose(world: World):
    missed = incident(EventKind.MISSED_DOSE, BAND_B, GW_B, "am-1", severity=Severity.HIGH)
    await world.send_events(GW_B, missed)
    await world.wait_notified("fam-b")
    (alert,) = await world.alerts()
    assert alert["state"] in ("open", "notified")

    taken = incident(EventKind.MEDICATION_TAKEN, BAND_B, GW_A, "am-1", severity=Severity.LOW)
    await world.send_events(GW_A, taken)
    await world.parked(GW_A, "not_covered")
    (still,) = await world.alerts()
    assert still["state"] != "resolved"

    # Her own press, through her own gateway, resolves it.
    taken_here = incident(EventKind.MEDICATION_TAKEN, BAND_B, GW_B, "am-1", severity=Severity.LOW)
    await world.send_events(GW_B, taken_here)

    async def resolved() -> bool:
        (a,) = await world.alerts()
        return bool(a["state"] == "resolved")

    await eventually(resolved, 30, "the alert resolved by the resident's own press")


async def test_a_forged_or_pre_sent_event_id_cannot_swallow_a_real_sos(world: World):
    # An id that is not the event's own: refused.
    honest = incident(EventKind.SOS, BAND_A, GW_A, 40)
    await world.send(
        GW_A,
        TopicKind.EVENT,
        encode(msgspec.structs.replace(honest, id=event_id(BAND_B, EventKind.SOS, 41))),
    )
    await world.parked(GW_A, "forged_id")
    # The predictable id of the other town's next SOS, sent ahead: refused (not covered).
    ahead = incident(EventKind.SOS, BAND_B, GW_A, 41, at=time.time() - 1200)
    await world.send_events(GW_A, ahead)
    await world.parked(GW_A, "not_covered")

    # Within its own coverage, a gateway can still send an id ahead of time: it opens an
    # alert then, and staff dismiss it...
    await world.send_events(GW_A, incident(EventKind.SOS, BAND_A, GW_A, 42, at=time.time() - 1200))
    await world.wait_notified("fam-a")
    (early,) = await world.alerts()
    await world.ok("POST", f"/api/v1/alerts/{early['id']}/resolve", {"outcome": "false_alarm"})
    # ... and the real SOS with that id, twenty minutes later, is a new incident, not a
    # redelivery folded into the dismissed one.
    await world.send_events(GW_A, incident(EventKind.SOS, BAND_A, GW_A, 42))
    await world.wait_notified("fam-a", 2)
    alerts = await world.alerts()
    assert len(alerts) == 2
    assert alerts[0]["state"] in ("open", "notified")
    assert (await world.health())["ingest"]["id_collisions"] == 1


async def test_a_gateway_cannot_take_over_another_bands_telemetry(world: World):
    now = time.time()
    await world.send(GW_B, TopicKind.TELEMETRY, telemetry(GW_B, 1, reading(BAND_B, steps=1)))
    # Out of the contract's bounds (rssi 127, a timestamp in 2096): refused whole.
    takeover = (
        b'{"v":1,"gateway":"gw-a","seq":1,"readings":[{"device":"'
        + BAND_B.encode()
        + b'","ts":3999999999.0,"rssi":127,"fields":{"steps":999}}]}'
    )
    await world.send(GW_A, TopicKind.TELEMETRY, takeover)
    # Within the bounds, but B's band (not covered) and a reading an hour ahead: refused;
    # the honest reading of A's own band in the same batch is kept.
    await world.send(
        GW_A,
        TopicKind.TELEMETRY,
        telemetry(
            GW_A,
            2,
            reading(BAND_B, rssi=20, steps=999),
            reading(BAND_A, ts=now + 3600, steps=999),
            reading(BAND_A, steps=5),
        ),
    )
    await world.parked(GW_A, "not_covered")
    for seq in range(2, 5):  # B's gateway reports on, and is kept
        await world.send(
            GW_B, TopicKind.TELEMETRY, telemetry(GW_B, seq, reading(BAND_B, steps=seq))
        )

    async def points() -> dict[tuple[str, str], list[Any]] | None:
        result = await world.stack.influx_query(
            "SELECT steps FROM wristband GROUP BY device, gateway"
        )
        series = result["results"][0].get("series") or []
        found = {
            (s["tags"]["device"], s["tags"]["gateway"]): [v[1] for v in s["values"]] for s in series
        }
        return found if len(found.get((BAND_B, GW_B), [])) == 4 else None

    found = await eventually(points, 30, "B's four readings in InfluxDB")
    assert found == {(BAND_B, GW_B): [1, 2, 3, 4], (BAND_A, GW_A): [5]}
    health = await world.health()
    assert health["refused"][GW_A] == {"invalid": 1, "not_covered": 1, "future_timestamp": 1}


async def test_refusals_are_told_to_staff_once_per_gateway_and_cause(world: World):
    staff_a = await world.user("staff.a", "staff", "t-a")
    staff_b = await world.user("staff.b", "staff", "t-b")
    foreign = [incident(EventKind.SOS, BAND_B, GW_A, 100 + i) for i in range(20)]
    await world.send_events(GW_A, *foreign)
    await world.parked(GW_A, "not_covered", at_least=20)

    async def notices(client: Any) -> list[dict[str, Any]]:
        return list((await client.get("/api/v1/gateway-notices")).json())

    (notice,) = await notices(staff_a)  # gw-a is in town A: its staff are told
    assert notice["gateway_id"] == GW_A
    assert notice["cause"] == "not_covered"
    assert notice["refusals"] == 20
    assert "outside the communities it covers" in notice["message"]
    assert await notices(staff_b) == []
    assert [r["cause"] for r in (await staff_a.get("/api/v1/dead-letters")).json()] == [
        "not_covered"
    ] * 20
    assert (await staff_b.get("/api/v1/dead-letters")).json() == []
    # One log line for the twenty, not twenty.
    log = (world.stack.fleet_dir / "fleet.log").read_text()
    assert log.count(f"from {GW_A} (not_covered)") == 1
    await staff_a.aclose()
    await staff_b.aclose()
