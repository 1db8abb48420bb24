"""Contact channels cannot make the fleet send requests into its own network.

The probe: a caregiver set their channel to ``json://<InfluxDB>/query?q=CREATE DATABASE
…`` and the fleet ran the statement at the next SOS. Now caregivers cannot set channels
at all, and staff only to allowed schemes and public hosts (or hosts an admin allows).
"""

import pytest

from contract import EventKind
from tests.security.world import BAND_A, GW_A, World, incident

pytestmark = [pytest.mark.security, pytest.mark.e2e]


async def test_a_caregiver_cannot_set_a_channel(world: World):
    carer = await world.user("fam-a", "caregiver")
    influx = world.stack.influx
    response = await carer.patch(
        "/api/v1/caregivers/fam-a",
        json={"channels": [f"json://127.0.0.1:{influx.port}/query?q=CREATE+DATABASE+pwned"]},
    )
    assert response.status_code == 403, response.text
    # Their own name they may still change.
    assert (await carer.patch("/api/v1/caregivers/fam-a", json={"locale": "zh-CN"})).is_success
    await carer.aclose()


async def test_staff_cannot_point_a_channel_into_the_fleets_network(world: World):
    staff = await world.user("staff.a", "staff", "t-a")
    influx = world.stack.influx
    mqtt = world.stack.mosquitto
    for url in (
        f"json://127.0.0.1:{influx.port}/query?q=CREATE+DATABASE+pwned",
        f"json://localhost:{influx.port}/query?q=CREATE+DATABASE+pwned",
        f"form://2130706433:{influx.port}/query",  # 127.0.0.1 as one decimal number
        f"jsons://[::1]:{world.stack.fleet_port}/api/v1/users",
        f"json://[::ffff:127.0.0.1]:{mqtt.port}/",
        "json://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "json://10.0.0.7/internal",
        "form://192.168.1.1/admin",
        "xml://93.184.216.34/hook",  # a scheme not on the list
        "json://no-such-host.invalid/hook",
    ):
        response = await staff.patch("/api/v1/caregivers/fam-a", json={"channels": [url]})
        assert response.status_code == 422, f"{url}: {response.status_code} {response.text}"
        created = await staff.post(
            "/api/v1/caregivers", json={"id": "c-new", "display_name": "x", "channels": [url]}
        )
        assert created.status_code == 422, f"{url}: {created.status_code} {created.text}"
    # A public address is fine (it is not sent to here: nobody it belongs to has an alert).
    public = await staff.post(
        "/api/v1/caregivers",
        json={"id": "c-public", "display_name": "x", "channels": ["json://93.184.216.34/hook"]},
    )
    assert public.status_code == 201, public.text

    # The next SOS reaches the family (an allowed host:port), and nothing else.
    await world.send_events(GW_A, incident(EventKind.SOS, BAND_A, GW_A, 1))
    await world.wait_notified("fam-a")
    databases = await world.stack.influx_query("SHOW DATABASES")
    names = [row[0] for row in databases["results"][0]["series"][0]["values"]]
    assert "pwned" not in names
    await staff.aclose()
