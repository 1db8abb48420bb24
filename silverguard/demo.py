"""``silverguard demo``: a simulated district on real servers, narrated on the console.

Starts a private Mosquitto and InfluxDB, the fleet service and a few gateways as
separate processes, registers a few dozen residents with their wristbands and
caregivers, lets the bands advertise, and presses one band's SOS button. The
caregivers' phones are a local HTTP receiver; what they get is printed.
"""

import asyncio
import contextlib
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import httpx

from firmware_mocks.air import RadioModel
from firmware_mocks.population import Population, district_layout
from firmware_mocks.wristband import Button
from silverguard.sim.receiver import Receiver
from silverguard.sim.stack import GatewaySpec, Stack

_SOS_AFTER_S = 8.0
_FALL_AFTER_S = 12.0


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def _demo(workdir: Path, duration_s: float | None, bands: int, gateways: int) -> int:
    receiver = Receiver().start()
    homes, positions = district_layout(bands, gateways)
    specs = [GatewaySpec(f"gw-{i + 1:02d}", pos) for i, pos in enumerate(positions)]
    # Gateways are enrolled through the fleet and learn their bands' keys only from its
    # retained config (sealed to each gateway's own key), as on a real site.
    stack = Stack(workdir, specs, radio=RadioModel(loss_rate=0.05), bands_in_settings=False)
    _say("银护 Silverguard demo — a simulated community on real servers / 模拟社区演示")
    _say(f"work directory: {workdir}")
    try:
        await stack.start()
        _say(
            f"Mosquitto (dynamic security, per-gateway ACLs) on 127.0.0.1:{stack.mosquitto.port}; "
            f"gateways connect over TLS on port {stack.mosquitto.tls_port}, verified with the "
            "fleet's CA"
        )
        _say(f"InfluxDB 1.x on {stack.influx.url} (database 'silverguard')")
        _say(f"fleet API on {stack.fleet_url}  (OpenAPI docs: {stack.fleet_url}/docs)")
        _say(f"admin bearer token: {stack.admin_token}")
        _say(f"console / 控制台: {stack.fleet_url}/console/  (sign in by pasting the token)")
        _say(
            f"while it runs: curl -H 'Authorization: Bearer {stack.admin_token}' {stack.fleet_url}/api/v1/alerts"
        )
        population = Population.generate(stack.air, bands, homes=homes, interval_s=1.0)
        channels = {
            sim.band.mac: [receiver.url(f"caregiver-{i + 1:05d}")]
            for i, sim in enumerate(population.bands)
        }
        await stack.register_population(population, channels)
        _say(f"registered {bands} residents, wristbands and caregivers through the API")
        for gateway_id in stack.specs:
            await stack.enroll_gateway(gateway_id)
        _say(
            f"{gateways} gateways enrolled with one-time tokens: each made its own key pair and "
            "received its MQTT credentials, the broker's CA and its first config"
        )
        await stack.start_gateways()
        await _wait_configs_applied(stack)
        _say(
            f"{gateways} gateways running: {', '.join(stack.specs)}; the fleet pushed each its "
            f"bands' keys sealed to it, and each reported the version applied (logs under "
            f"{workdir}/gateways)"
        )
        runner = asyncio.create_task(population.run())
        try:
            return await _narrate(stack, population, receiver, duration_s)
        finally:
            runner.cancel()
    finally:
        with contextlib.suppress(Exception):
            await stack.stop()
        receiver.stop()


async def _wait_configs_applied(stack: Stack, timeout: float = 60.0) -> None:
    assert stack.api is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gateways = [(await stack.api.get(f"/api/v1/gateways/{g}")).json() for g in stack.specs]
        if all(g.get("config_in_sync") and g.get("reported_ok") for g in gateways):
            return
        await asyncio.sleep(0.3)
    _say("warning: not every gateway reported its config in time; see the gateway logs")


async def _narrate(
    stack: Stack, population: Population, receiver: Receiver, duration_s: float | None
) -> int:
    assert stack.api is not None
    started = time.monotonic()
    # Two residents at home (not out of the gateways' range): one presses SOS, one falls.
    at_home = [b for b in population.bands if b.in_range(time.time())] or population.bands
    sos_band = at_home[min(6, len(at_home) - 1)]
    fall_band = at_home[min(11, len(at_home) - 1)]
    paths = {f"caregiver-{i + 1:05d}": sim.band.mac for i, sim in enumerate(population.bands)}
    happened: dict[str, tuple[str, float]] = {}  # band -> (what, when)
    acked = False
    shown = 0
    next_status = started + 5
    while duration_s is None or time.monotonic() - started < duration_s:
        now = time.monotonic()
        if sos_band.band.mac not in happened and now - started >= _SOS_AFTER_S:
            _say(
                f"SOS: the resident wearing band {sos_band.band.mac} holds the button / 长按求救按钮"
            )
            happened[sos_band.band.mac] = ("the press", time.time())
            population.press(sos_band.band.mac, Button.LONG)
        if (
            fall_band.band.mac not in happened
            and fall_band is not sos_band
            and now - started >= _FALL_AFTER_S
        ):
            _say(
                f"a fall: the resident wearing band {fall_band.band.mac} falls and lies still; "
                "the band flags it, the gateway waits 30 s for a cancel press before it "
                "raises the alarm / 跌倒：30 秒内可按键取消"
            )
            happened[fall_band.band.mac] = ("the fall", time.time())
            population.fall(fall_band.band.mac)
        delivered = receiver.delivered()
        for request in delivered[shown:]:
            what = happened.get(paths.get(request.path.strip("/"), ""))
            latency = f" {request.at - what[1]:.1f} s after {what[0]}" if what else ""
            _say(f"caregiver's phone ({request.path.strip('/')}) got{latency}:")
            text = f"{request.body.get('title', '')}\n{request.body.get('message', '')}"
            print("\n".join("    " + line for line in text.splitlines()), flush=True)
        shown = len(delivered)
        if not acked and delivered:
            acked = await _acknowledge_by_link(delivered[0].body.get("message", ""))
        if now >= next_status:
            next_status = now + 10
            health = (await stack.api.get("/health")).json()
            points = await stack.influx_query("SELECT count(battery) FROM wristband")
            series = points.get("results", [{}])[0].get("series", [])
            battery_points = series[0]["values"][0][1] if series else 0
            telemetry = health.get("telemetry", {})
            _say(
                f"status: {population.adverts} adverts sent; fleet ingest {health.get('ingest')}; "
                f"telemetry kept {telemetry.get('kept', 0)}, duplicates from other gateways "
                f"dropped {telemetry.get('other_source', 0)}; {battery_points} battery readings "
                f"in InfluxDB; influx {health.get('influxdb')}"
            )
        await asyncio.sleep(0.2)
    alerts = (await stack.api.get("/api/v1/alerts")).json()
    for alert in alerts:
        _say(f"alert {alert['id']}: {alert['kind']} ({alert['severity']}), now {alert['state']}")
    _say("demo finished / 演示结束")
    return 0 if acked else 1


async def _acknowledge_by_link(message: str) -> bool:
    """The caregiver taps the one-click link in the message: the page, then the button."""
    match = re.search(r"https?://\S+/ack/\S+", message)
    if match is None:
        return False
    async with httpx.AsyncClient(timeout=10) as phone:
        page = await phone.get(match[0])
        done = await phone.post(match[0])
    _say(
        f"the caregiver opened the acknowledge link (page: HTTP {page.status_code}) and "
        f"pressed the button: HTTP {done.status_code} / 照护人点击确认链接"
    )
    return done.status_code == 200


def run_demo(*, duration_s: float | None, bands: int, gateways: int, keep_data: bool) -> int:
    if bands < 1 or gateways < 1:
        print("silverguard demo: --bands and --gateways must be at least 1")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="silverguard-demo-"))

    async def main() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        try:
            return await _demo(workdir, duration_s, bands, gateways)
        except asyncio.CancelledError:
            _say("stopped")
            return 0

    try:
        return asyncio.run(main())
    finally:
        if keep_data:
            _say(f"data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
