"""A bleak scanner backend fed by the simulated air (see firmware_mocks.air).

Plugged in *below* bleak: the gateway builds ``BleakScanner(callback, backend=
SimulatedBleakScanner, air=..., gateway_id=..., position=...)`` and receives bleak's
own ``BLEDevice`` and ``AdvertisementData`` objects, just as from BlueZ on a Pi. The
backend parses the raw advertising payload (AD structures) the way a host stack does.
"""

import asyncio
import contextlib
import json
import logging
from typing import Any, Literal

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.uuids import normalize_uuid_16

log = logging.getLogger(__name__)

_AD_COMPLETE_LOCAL_NAME = 0x09
_AD_SERVICE_DATA_16 = 0x16
_RECONNECT_S = 0.5


def parse_ad_structures(payload: bytes) -> tuple[str | None, dict[str, bytes]]:
    """Split an advertising payload into (local name, service data by 128-bit UUID)."""
    name: str | None = None
    service_data: dict[str, bytes] = {}
    i = 0
    while i < len(payload):
        length = payload[i]
        if length == 0 or i + 1 + length > len(payload):
            break  # padding or a truncated structure: stop, as BlueZ does
        ad_type = payload[i + 1]
        data = payload[i + 2 : i + 1 + length]
        if ad_type == _AD_SERVICE_DATA_16 and len(data) >= 2:
            service_data[normalize_uuid_16(int.from_bytes(data[:2], "little"))] = bytes(data[2:])
        elif ad_type == _AD_COMPLETE_LOCAL_NAME:
            name = data.decode("utf-8", "replace")
        i += 1 + length
    return name, service_data


class SimulatedBleakScanner(BaseBleakScanner):
    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "passive",
        *,
        air: str = "127.0.0.1:0",
        gateway_id: str = "gateway",
        position: tuple[float, float] = (0.0, 0.0),
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        host, _, port = air.rpartition(":")
        self._host, self._port = host or "127.0.0.1", int(port)
        self._gateway_id = gateway_id
        self._position = position
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self.seen_devices = {}
        self._task = asyncio.create_task(self._receive_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _receive_forever(self) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection(self._host, self._port)
            except OSError as exc:
                log.debug("simulated radio not reachable (%s); retrying", exc)
                await asyncio.sleep(_RECONNECT_S)
                continue
            hello = {"gateway": self._gateway_id, "x": self._position[0], "y": self._position[1]}
            writer.write((json.dumps(hello) + "\n").encode())
            self.connected.set()
            try:
                while line := await reader.readline():
                    self._on_line(line)
            except ConnectionError:
                pass
            finally:
                self.connected.clear()
                writer.close()
            await asyncio.sleep(_RECONNECT_S)

    def _on_line(self, line: bytes) -> None:
        try:
            mac_text, rssi_text, payload_hex = line.split()
            mac = mac_text.decode()
            payload = bytes.fromhex(payload_hex.decode())
            rssi = int(rssi_text)
        except ValueError:
            log.debug("simulated radio: unparsable line skipped")
            return
        name, service_data = parse_ad_structures(payload)
        uuids = list(service_data)
        if not self.is_allowed_uuid(uuids):
            return
        adv = AdvertisementData(
            local_name=name,
            manufacturer_data={},
            service_data=service_data,
            service_uuids=uuids,
            tx_power=None,
            rssi=rssi,
            platform_data=(),
        )
        device = self.create_or_update_device(mac, mac, name, None, adv)
        self.call_detection_callbacks(device, adv)
