"""The simulated radio neighbourhood: bands transmit, gateways hear them.

The air runs as a small TCP service so that gateways can be separate processes (as
in production, and so tests can ``kill -9`` them). A gateway's simulated bleak
backend connects, says where it stands, and receives every advert it would hear,
with an RSSI from a log-distance path-loss model; adverts below the receiver's
sensitivity, or lost at the configured rate, never reach it.

Line protocol (UTF-8, one per line):
  gateway -> air:  {"gateway": "gw-01", "x": 0.0, "y": 0.0}
  air -> gateway:  <MAC> <RSSI> <advertising payload, hex>
"""

import asyncio
import contextlib
import json
import logging
import math
import random
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Above this many unsent bytes a gateway is not keeping up: further adverts to it are
# dropped, as a real controller drops reports when the host does not read them.
_MAX_BACKLOG_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class RadioModel:
    rssi_at_1m: float = -59.0  # typical BLE wristband, 0 dBm TX
    path_loss_exponent: float = 2.7  # indoor, through a wall or two
    sensitivity_dbm: float = -95.0  # Raspberry Pi's onboard controller, roughly
    shadowing_sigma_db: float = 3.0  # random fading per advert
    loss_rate: float = 0.0  # extra random loss (collisions, interference)

    def rssi(self, distance_m: float, rng: random.Random) -> float:
        d = max(distance_m, 0.5)
        fading = rng.gauss(0.0, self.shadowing_sigma_db) if self.shadowing_sigma_db else 0.0
        return self.rssi_at_1m - 10.0 * self.path_loss_exponent * math.log10(d) + fading


@dataclass(slots=True)
class _Listener:
    gateway_id: str
    x: float
    y: float
    writer: asyncio.StreamWriter


class Air:
    def __init__(self, model: RadioModel | None = None, *, seed: int | None = None) -> None:
        self.model = model or RadioModel()
        self._rng = random.Random(seed)
        self._listeners: list[_Listener] = []
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.address

    async def close(self) -> None:
        for listener in list(self._listeners):
            listener.writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def gateways(self) -> list[str]:
        return [listener.gateway_id for listener in self._listeners]

    async def wait_for_gateways(self, names: set[str], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: names <= set(self.gateways()))

    def transmit(self, mac: str, x: float, y: float, payload: bytes) -> int:
        """Send one advert from a band at (x, y); return how many gateways heard it."""
        heard = 0
        line_tail = f" {payload.hex()}\n"
        for listener in self._listeners:
            if self.model.loss_rate and self._rng.random() < self.model.loss_rate:
                continue
            distance = math.hypot(listener.x - x, listener.y - y)
            rssi = self.model.rssi(distance, self._rng)
            if rssi < self.model.sensitivity_dbm:
                continue
            transport = listener.writer.transport
            if transport.is_closing() or transport.get_write_buffer_size() > _MAX_BACKLOG_BYTES:
                continue
            listener.writer.write(f"{mac} {round(rssi)}{line_tail}".encode())
            heard += 1
        return heard

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            hello = json.loads(await reader.readline())
            listener = _Listener(
                str(hello["gateway"]), float(hello["x"]), float(hello["y"]), writer
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("air: bad hello from a receiver: %s", exc)
            writer.close()
            return
        self._listeners.append(listener)
        async with self._changed:
            self._changed.notify_all()
        try:
            # The receiver sends nothing more; EOF means it went away.
            await reader.read()
        except ConnectionError:
            pass
        finally:
            self._listeners.remove(listener)
            writer.close()
            async with self._changed:
                self._changed.notify_all()
