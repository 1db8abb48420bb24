"""A small district served by a real fleet for the console tests: Mosquitto, InfluxDB
and the fleet as a separate process (``silverguard fleet serve``), seeded through the
fleet's API, with a gateway's MQTT client to raise events the way a gateway does."""

import asyncio
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

from contract import (
    Event,
    EventKind,
    GatewayStatus,
    Health,
    Severity,
    Topic,
    TopicKind,
    encode,
)
from fleet.auth import Role, issue_token
from fleet.db.session import make_engine, make_sessionmaker, migrate
from silverguard.servers.influxdb import InfluxServer
from silverguard.servers.mosquitto import Credentials, MosquittoServer
from silverguard.servers.process import ChildProcess, free_port, wait_until
from silverguard.sim.receiver import Receiver
from silverguard.sim.settings_files import write_toml

TOWN = "t-demo"
COMMUNITY = "c-xingfu"
STAFF = ("wang.li", "health-center-2026")
CAREGIVER = ("c-fam-1", "family-password-1")
RESIDENTS = {  # resident id: (name, caregiver id)
    "r-1": ("王秀英", "c-fam-1"),
    "r-2": ("李建国", "c-fam-2"),
    "r-3": ("张桂兰", "c-fam-3"),
    "r-4": ("刘德华", "c-fam-4"),
    "r-5": ("陈淑珍", "c-fam-5"),
    "r-6": ("杨明", "c-fam-6"),
}
INFLUX_DB = "silverguard"


def band_mac(i: int) -> str:
    return f"C2:00:00:00:00:{i:02X}"


def _ok(response: httpx.Response, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201)), (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    return response.json()


@dataclass
class ConsoleWorld:
    workdir: Path
    mosquitto: MosquittoServer
    influx: InfluxServer
    receiver: Receiver
    fleet: ChildProcess
    port: int
    admin: httpx.Client
    gateway: Credentials

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    def start(cls, workdir: Path) -> "ConsoleWorld":
        mosquitto = MosquittoServer(workdir / "mosquitto").start()
        influx = InfluxServer(workdir / "influxdb").start()
        receiver = Receiver().start()
        fleet_creds = mosquitto.add_fleet()
        gateway = mosquitto.add_gateway("gw-01")
        port = free_port()
        data_dir = workdir / "fleet"
        config = data_dir / "fleet.toml"
        write_toml(
            config,
            {
                "data_dir": str(data_dir),
                "host": "127.0.0.1",
                "port": port,
                "log_level": "INFO",
                "notify_retry_s": 1.0,
                "battery_cache_s": 0,  # the tests write history and look at once
                # The caregivers' phones (the receiver) listen on the loopback.
                "channel_allow_hosts": [f"127.0.0.1:{receiver.port}"],
                "mqtt": {
                    "host": mosquitto.host,
                    "port": mosquitto.port,
                    "username": fleet_creds.username,
                    "password": fleet_creds.password,
                    "client_id": fleet_creds.client_id,
                },
                "influx": {"url": influx.url, "database": INFLUX_DB, "flush_interval_s": 0.2},
            },
        )
        url = f"sqlite:///{data_dir / 'registry.db'}"
        migrate(url)
        engine = make_engine(url)
        with make_sessionmaker(engine).begin() as session:
            token = issue_token(session, subject="root", role=Role.ADMIN)
        engine.dispose()
        fleet = ChildProcess(
            "fleet",
            [sys.executable, "-m", "silverguard.cli", "fleet", "serve", "--config", str(config)],
            data_dir / "fleet.log",
        )
        fleet.start()
        admin = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        world = cls(workdir, mosquitto, influx, receiver, fleet, port, admin, gateway)
        try:
            fleet.wait_ready(world._healthy, timeout=60)
            world.seed()
        except BaseException:
            world.stop()
            raise
        return world

    def _healthy(self) -> bool:
        try:
            health = self.admin.get("/health").json()
        except httpx.HTTPError:
            return False
        return bool(health.get("broker") == "ok" and health.get("influxdb") == "ok")

    def stop(self) -> None:
        self.admin.close()
        self.fleet.stop()
        self.receiver.stop()
        self.influx.stop()
        self.mosquitto.stop()

    # -- the district --------------------------------------------------------------------

    def seed(self) -> None:
        api = self.admin
        _ok(api.post("/api/v1/towns", json={"id": TOWN, "name": "演示街道"}))
        _ok(
            api.post(
                "/api/v1/communities", json={"id": COMMUNITY, "town_id": TOWN, "name": "幸福社区"}
            )
        )
        for i, (resident_id, (name, caregiver_id)) in enumerate(RESIDENTS.items(), start=1):
            channels = [self.receiver.url(caregiver_id)]
            _ok(
                api.post(
                    "/api/v1/caregivers",
                    json={
                        "id": caregiver_id,
                        "display_name": f"{name}的家属",
                        "locale": "zh-CN",
                        "channels": channels,
                    },
                )
            )
            _ok(
                api.post(
                    "/api/v1/residents",
                    json={
                        "id": resident_id,
                        "display_name": name,
                        "address": f"幸福社区3号楼{i}01室",
                        "community_id": COMMUNITY,
                        "caregivers": [caregiver_id],
                    },
                )
            )
            _ok(
                api.post(
                    "/api/v1/wristbands",
                    json={
                        "mac": band_mac(i),
                        "bind_key": f"{i:04x}" + "00112233445566778899aabbccdd",
                        "resident_id": resident_id,
                        "firmware": "1.4.2",
                    },
                )
            )
        _ok(
            api.post(
                "/api/v1/users",
                json={"id": STAFF[0], "role": "staff", "town_id": TOWN, "password": STAFF[1]},
            )
        )
        _ok(
            api.post(
                "/api/v1/users",
                json={"id": CAREGIVER[0], "role": "caregiver", "password": CAREGIVER[1]},
            )
        )
        for gateway_id in ("gw-01", "gw-02"):
            _ok(
                api.post(
                    "/api/v1/gateways",
                    json={"id": gateway_id, "location": "3号楼楼道", "communities": [COMMUNITY]},
                )
            )

    # -- what gateways do ---------------------------------------------------------------

    def _publish(self, messages: list[tuple[str, bytes, bool]]) -> None:
        async def send() -> None:
            async with aiomqtt.Client(
                self.mosquitto.host,
                self.mosquitto.port,
                username=self.gateway.username,
                password=self.gateway.password,
                identifier=self.gateway.client_id,
                protocol=aiomqtt.ProtocolVersion.V5,
            ) as client:
                for topic, payload, retain in messages:
                    await client.publish(topic, payload, qos=1, retain=retain)

        # Playwright's sync API owns this thread's event loop; MQTT gets a thread of its own.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, send()).result(timeout=30)

    def raise_event(
        self, resident: int, kind: EventKind, key: int, severity: Severity = Severity.CRITICAL
    ) -> Event:
        """An event from gw-01 about resident ``r-<resident>``'s band, as the gateway
        sends it; the fleet opens (or folds it into) an alert."""
        now = time.time()
        event = Event.incident(
            kind,
            severity,
            device=band_mac(resident),
            key=key,
            gateway="gw-01",
            occurred_at=now,
            detected_at=now,
        )
        self._publish([(str(Topic("gw-01", TopicKind.EVENT)), encode(event), False)])
        return event

    def gateway_online(self, *, outbox_events: int, outbox_telemetry: int) -> None:
        now = time.time()
        status = GatewayStatus(gateway="gw-01", state="online", ts=now, version="0.1.0")
        health = Health(
            gateway="gw-01",
            ts=now,
            uptime_s=7260.0,
            figures={"outbox_events": outbox_events, "outbox_telemetry": outbox_telemetry},
        )
        self._publish(
            [
                (str(Topic("gw-01", TopicKind.STATUS)), encode(status), True),
                (str(Topic("gw-01", TopicKind.HEALTH)), encode(health), False),
            ]
        )

    def publish_as_gateway(self, topic: str, payload: bytes) -> None:
        """One message from gw-01's account, such as its config/reported answer."""
        self._publish([(topic, payload, False)])

    def alert_of(self, resident_id: str) -> dict[str, Any] | None:
        for alert in _ok(self.admin.get("/api/v1/alerts?limit=1000")):
            if alert["resident_id"] == resident_id and alert["state"] != "resolved":
                return dict(alert)
        return None

    def wait_alert(self, resident_id: str, timeout: float = 20.0) -> dict[str, Any]:
        wait_until(
            lambda: self.alert_of(resident_id) is not None,
            timeout,
            f"an alert for {resident_id}",
            interval=0.1,
        )
        alert = self.alert_of(resident_id)
        assert alert is not None
        return alert

    # -- time series --------------------------------------------------------------------

    def write_lines(self, lines: list[str]) -> None:
        """Line protocol (seconds) into the fleet's database, as the fleet writes telemetry."""
        response = httpx.post(
            f"{self.influx.url}/write",
            params={"db": INFLUX_DB, "precision": "s"},
            content="\n".join(lines).encode(),
            timeout=30,
        )
        assert response.status_code == 204, response.text

    def write_battery(self, series: dict[str, list[tuple[float, int]]]) -> None:
        """Battery readings as the fleet stores telemetry: (unix seconds, percent)."""
        lines = [
            f"wristband,device={mac},gateway=gw-01 battery={level}i {int(ts)}"
            for mac, points in series.items()
            for ts, level in points
        ]
        response = httpx.post(
            f"{self.influx.url}/write",
            params={"db": INFLUX_DB, "precision": "s"},
            content="\n".join(lines).encode(),
            timeout=30,
        )
        assert response.status_code == 204, response.text
