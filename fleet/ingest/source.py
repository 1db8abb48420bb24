"""Which gateway's telemetry counts for a device heard by several gateways.

Every gateway in range reports the band; the fleet keeps one reading per device per
batch, from the gateway that hears it best. RSSI is smoothed per (device, gateway)
and a challenger must beat the current source by a dead-band before the fleet
switches, so two gateways that hear a band about equally do not take turns (the
flapping people complain about with Home Assistant's Bluetooth proxies). The source
also changes when the current one has not heard the device for ``stale_s``: the
resident walked away, or the gateway went down.
"""

import zlib
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Link:
    rssi: float  # exponentially smoothed
    last_ts: float
    readings: int = 1


@dataclass(slots=True)
class _Device:
    source: str | None = None
    links: dict[str, _Link] = field(default_factory=dict)
    last_kept: float = float("-inf")
    last_kept_from: str | None = None


_SETTLED = 3  # readings before a source's smoothed RSSI is trusted


class SourceSelector:
    def __init__(
        self,
        *,
        deadband_db: float = 6.0,
        stale_s: float = 30.0,
        alpha: float = 0.3,
        min_gap_s: float = 1.0,
        max_future_s: float = 300.0,
    ) -> None:
        # 6 dB: twice the typical per-advert fading spread, so noise alone rarely crosses it.
        self.deadband_db = deadband_db
        # Two gateways' reports of the same advert are less than an advert interval apart:
        # when the source changes, the new source's report of a moment already kept is
        # not kept again.
        self.min_gap_s = min_gap_s
        self.stale_s = stale_s
        self.alpha = alpha
        self.max_future_s = max_future_s
        self._devices: dict[str, _Device] = {}
        self.handovers = 0
        self.future_ignored = 0

    def source_of(self, device: str) -> str | None:
        entry = self._devices.get(device)
        return entry.source if entry else None

    def accept(
        self,
        device: str,
        gateway: str,
        rssi: float | None,
        ts: float,
        *,
        now: float | None = None,
    ) -> bool:
        """Record a reading's link quality; True if this gateway's reading is the one to keep.

        A reading dated beyond ``max_future_s`` after ``now`` is ignored, not recorded:
        a link's last time would otherwise stay ahead of every honest reading, and the
        gateway that sent it would stay the source for ever (it could not go stale).
        """
        if now is not None and ts > now + self.max_future_s:
            self.future_ignored += 1
            return False
        entry = self._devices.get(device)
        if entry is None:
            entry = self._devices[device] = _Device()
        link = entry.links.get(gateway)
        level = rssi if rssi is not None else -100.0
        if link is None:
            link = entry.links[gateway] = _Link(level, ts)
        else:
            if ts < link.last_ts:
                return False  # an older reading than one already seen from this gateway
            link.rssi += self.alpha * (level - link.rssi)
            link.last_ts = ts
            link.readings += 1
        current = entry.links.get(entry.source) if entry.source else None
        lost = current is None or ts - current.last_ts > self.stale_s
        if lost:
            self._switch(entry, gateway)
        elif gateway != entry.source:
            assert current is not None
            # Until the source has a few readings its smoothed RSSI is one noisy sample:
            # the better link wins outright. The dead-band guards established links.
            margin = self.deadband_db if current.readings >= _SETTLED else 0.0
            if link.rssi > current.rssi + margin:
                self._switch(entry, gateway)
        if entry.source != gateway:
            return False
        if entry.last_kept_from != gateway and ts - entry.last_kept < self.min_gap_s:
            return False  # the moment the previous source already reported
        entry.last_kept, entry.last_kept_from = ts, gateway
        return True

    def _switch(self, entry: _Device, gateway: str) -> None:
        if entry.source is not None and entry.source != gateway:
            self.handovers += 1
        entry.source = gateway


@dataclass(frozen=True, slots=True)
class Partition:
    """This instance's share of the devices when several fleet instances run.

    Telemetry is then subscribed without sharing (every instance sees every batch) and
    each instance keeps only its devices, so each device's source is chosen by one
    instance that sees all of its gateways' reports.
    """

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> "Partition":
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            raise ValueError(
                f"partition {text!r} is not like 0/1 (this instance / instances)"
            ) from None
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"partition {text!r}: need 0 <= index < count")
        return cls(index, count)

    def owns(self, device: str) -> bool:
        return self.count == 1 or zlib.crc32(device.encode()) % self.count == self.index
