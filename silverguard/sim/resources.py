"""CPU and memory of every process of a simulation run (psutil): this process and all
it started (the fleet, the gateways, Mosquitto, InfluxDB)."""

import os
import time

import psutil


def _name(process: psutil.Process) -> str:
    try:
        argv = process.cmdline()
    except psutil.Error:
        return f"pid {process.pid}"
    if "--config" in argv and len(argv) > argv.index("--config") + 1:
        config = argv[argv.index("--config") + 1]
        parent = os.path.basename(os.path.dirname(config))
        return "fleet" if "fleet" in argv else f"gateway {parent}"
    return os.path.basename(argv[0]) if argv else f"pid {process.pid}"


class Resources:
    """Samples RSS now and then (at most every ``every_s``); CPU is read at the end."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self.me = psutil.Process()
        self.peak: dict[int, tuple[str, float]] = {}  # pid -> (name, peak RSS bytes)
        self.cpu: dict[int, float] = {}  # pid -> last CPU seconds seen (a killed one keeps it)
        self._last = 0.0

    def processes(self) -> list[psutil.Process]:
        return [self.me, *self.me.children(recursive=True)]

    def sample(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        for process in self.processes():
            try:
                rss = process.memory_info().rss
                times = process.cpu_times()
            except psutil.Error:
                continue
            name, peak = self.peak.get(process.pid, (_name(process), 0.0))
            self.peak[process.pid] = (name, max(peak, rss))
            self.cpu[process.pid] = times.user + times.system

    def peak_rss_mb(self) -> float:
        return round(max((p for _, p in self.peak.values()), default=0) / 2**20, 1)

    def cpu_s(self) -> float:
        return round(sum(self.cpu.values()), 1)

    def table(self) -> list[tuple[str, float, float]]:
        """(process, CPU seconds, peak RSS MB), largest CPU first."""
        rows = [
            (name, round(self.cpu.get(pid, 0.0), 1), round(peak / 2**20, 1))
            for pid, (name, peak) in self.peak.items()
        ]
        return sorted(rows, key=lambda r: -r[1])
