"""The box's own health figures for the heartbeat: CPU, memory, disk, temperature.

psutil is the one import for this (the same calls on a Pi's Raspberry Pi OS and on a
PC; a hand-rolled /proc reader would differ per kernel). A figure that cannot be read
on this machine (no thermal sensor in a VM, for one) is left out, never faked.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from contract import FieldValue

log = logging.getLogger(__name__)

# Where Raspberry Pi OS exposes the SoC temperature when psutil finds no sensor.
_THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


class RateMeter:
    """Events per second of a counter, between two readings (pure; clock passed in)."""

    def __init__(self, count: Callable[[], int], clock: Callable[[], float]) -> None:
        self._count = count
        self._clock = clock
        self._last = (clock(), count())

    def rate(self) -> float:
        now, value = self._clock(), self._count()
        then, before = self._last
        self._last = (now, value)
        elapsed = now - then
        return round((value - before) / elapsed, 2) if elapsed > 0 else 0.0


def _temperature_c() -> float | None:
    sensors = getattr(psutil, "sensors_temperatures", None)
    if sensors is not None:
        try:
            readings = sensors()
        except (OSError, RuntimeError):
            readings = {}
        for name in ("cpu_thermal", "coretemp", "k10temp", "soc_thermal", "cpu-thermal"):
            if readings.get(name):
                return round(float(readings[name][0].current), 1)
        for entries in readings.values():
            if entries:
                return round(float(entries[0].current), 1)
    try:
        return round(int(_THERMAL_ZONE.read_text()) / 1000, 1)
    except (OSError, ValueError):
        return None


class SystemProbe:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._process = psutil.Process()
        # cpu_percent measures since the previous call; the first call only starts it.
        psutil.cpu_percent(interval=None)
        self._process.cpu_percent(interval=None)
        self._boot = psutil.boot_time()

    def figures(self) -> dict[str, FieldValue]:
        figures: dict[str, FieldValue] = {}
        try:
            figures["cpu_percent"] = psutil.cpu_percent(interval=None)
            figures["process_cpu_percent"] = round(self._process.cpu_percent(interval=None), 1)
            figures["load_1m"] = round(psutil.getloadavg()[0], 2)
            memory = psutil.virtual_memory()
            figures["memory_percent"] = memory.percent
            figures["memory_available_mb"] = round(memory.available / 2**20, 1)
            figures["process_rss_mb"] = round(self._process.memory_info().rss / 2**20, 1)
            disk = psutil.disk_usage(str(self._data_dir))
            figures["disk_free_mb"] = round(disk.free / 2**20, 1)
            figures["disk_percent"] = disk.percent
            figures["system_uptime_s"] = round(time.time() - self._boot)
        except (OSError, psutil.Error) as exc:
            log.warning("health: system figures unavailable: %s", exc)
        temperature = _temperature_c()
        if temperature is not None:
            figures["temperature_c"] = temperature
        return figures
