"""A simulated RS-485 bus on a pseudo-terminal pair, with meters and fault injection.

The gateway's real serial code opens :attr:`PtyBus.port` (the pty's slave side, e.g.
``/dev/pts/7``); a thread here reads requests from the master side and lets the meter
whose address matches answer, as on a real bus: every meter hears every frame and only
the addressed one speaks. Linux ptys refuse even parity, so run them 8N1.

Faults, per meter, for the next N answers: a flipped CRC/checksum byte, a truncated
frame, garbage instead of the answer, noise in front of a valid answer, an answer that
comes after the gateway's timeout, or silence. ``station.silent = True`` makes a meter
vanish until set back; :meth:`PtyBus.noise` puts bytes on the line unasked.
"""

import contextlib
import os
import pty
import random
import select
import threading
import time
import tty
from collections import deque
from enum import StrEnum
from typing import Any

from firmware_mocks.meters import dlt645_slave, modbus_slave


class Fault(StrEnum):
    BAD_CHECKSUM = "bad_checksum"  # last CRC / checksum byte flipped
    TRUNCATED = "truncated"  # only the first half of the frame
    GARBAGE = "garbage"  # random bytes instead of the answer
    NOISE_BEFORE = "noise_before"  # a few random bytes, then the valid answer
    LATE = "late"  # the answer, after the gateway has given up
    SILENT = "silent"  # no answer at all


class Station:
    """One meter on the bus and what is wrong with it."""

    def __init__(self, meter: Any) -> None:
        self.meter = meter
        self.silent = False
        self.faults: deque[Fault] = deque()
        self.answered = 0

    def inject(self, fault: Fault, times: int = 1) -> None:
        self.faults.extend([fault] * times)


class PtyBus:
    def __init__(
        self,
        protocol: str,
        *,
        response_delay_s: float = 0.003,
        late_s: float = 1.5,
        seed: int = 7,
    ) -> None:
        if protocol not in ("modbus", "dlt645"):
            raise ValueError(f"unknown protocol {protocol!r}")
        self.protocol = protocol
        self.response_delay_s = response_delay_s
        self.late_s = late_s
        self._rng = random.Random(seed)
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # no echo, no line editing: bytes pass unchanged
        self.port = os.ttyname(self.slave)
        self.stations: list[Station] = []
        self.requests = 0  # well-formed requests heard
        self.unanswered = 0  # requests for an address nobody has, or a silent meter
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None

    def add(self, meter: Any) -> Station:
        if meter.protocol != self.protocol:
            raise ValueError(f"a {meter.protocol} meter on a {self.protocol} bus")
        station = Station(meter)
        with self._lock:
            self.stations.append(station)
        return station

    def noise(self, size: int = 16) -> bytes:
        data = bytes(self._rng.randrange(256) for _ in range(size))
        os.write(self.master, data)
        return data

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> "PtyBus":
        self._thread = threading.Thread(
            target=self._serve, name=f"pty bus {self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self.master, self.slave, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> "PtyBus":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the bus -----------------------------------------------------------------------

    def _find(self, buffer: bytes) -> tuple[Any, int]:
        if self.protocol == "modbus":
            return modbus_slave.find_request(buffer)
        return dlt645_slave.find_request(buffer)

    def _serve(self) -> None:
        buffer = bytearray()
        last_byte_at = 0.0
        while True:
            ready, _, _ = select.select([self.master, self._stop_r], [], [], 0.05)
            if self._stop_r in ready:
                return
            now = time.monotonic()
            if self.master in ready:
                try:
                    buffer += os.read(self.master, 4096)
                except OSError:
                    return
                last_byte_at = now
            while buffer:
                request, end = self._find(bytes(buffer))
                if request is None:
                    break
                del buffer[:end]
                self._handle(request)
            # A slave takes a silence as the end of a frame; drop what never parsed.
            if buffer and now - last_byte_at > 0.2:
                buffer.clear()

    def _handle(self, request: Any) -> None:
        self.requests += 1
        with self._lock:
            stations = [s for s in self.stations if s.meter.answers(request)]
        answered = False
        for station in stations:
            fault = station.faults.popleft() if station.faults else None
            if station.silent or fault is Fault.SILENT:
                continue
            answer = station.meter.respond(request)
            answer = self._spoil(answer, fault)
            time.sleep(self.late_s if fault is Fault.LATE else self.response_delay_s)
            # Counted before the bytes leave, so a test that has the answer sees the count.
            station.answered += 1
            answered = True
            try:
                os.write(self.master, answer)
            except OSError:
                return
        if not answered:
            self.unanswered += 1

    def _spoil(self, answer: bytes, fault: Fault | None) -> bytes:
        if fault is Fault.BAD_CHECKSUM:
            # The CRC is the last two bytes (Modbus); the checksum sits before 0x16.
            at = len(answer) - (1 if self.protocol == "modbus" else 2)
            return answer[:at] + bytes([answer[at] ^ 0x5A]) + answer[at + 1 :]
        if fault is Fault.TRUNCATED:
            return answer[: len(answer) // 2]
        if fault is Fault.GARBAGE:
            return bytes(self._rng.randrange(256) for _ in range(len(answer)))
        if fault is Fault.NOISE_BEFORE:
            # Not 0x68 or a Modbus id: noise that cannot be mistaken for a frame start.
            return bytes(self._rng.choice((0x00, 0x13, 0x55, 0xF0)) for _ in range(5)) + answer
        return answer
