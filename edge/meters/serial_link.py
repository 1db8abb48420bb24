"""One serial port, asynchronously — the only module on the gateway that imports pyserial.

The port is opened non-blocking and watched with the event loop's reader callback
(``loop.add_reader``), so a poll never blocks the gateway's other tasks and needs no
thread. Opened exclusively (``flock``): a second process on the same bus — say
``silverguard meters read`` while the gateway runs — would interleave frames, so it is
refused with a message saying why.

A USB-RS485 adapter that is unplugged makes reads fail; the link closes itself and
reopens on the next exchange, so a meter "comes back" when its adapter does.
"""

import asyncio
import contextlib
import logging
import termios
from collections.abc import Callable
from dataclasses import dataclass

import serial

from contract import transport
from contract.meters import SerialLine
from edge.meters.errors import PortError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    data: bytes
    complete: bool  # the caller's completeness check passed before the timeout


def open_serial(line: SerialLine, *, timeout: float | None = 0) -> serial.Serial:
    """Open ``line`` exclusively, raising PortError with what to check."""
    try:
        return serial.Serial(
            line.port,
            baudrate=line.baud,
            bytesize=serial.EIGHTBITS,
            parity=line.parity,
            stopbits=serial.STOPBITS_ONE,
            timeout=timeout,
            write_timeout=1.0,
            exclusive=True,
        )
    except termios.error as exc:
        raise PortError(
            f"{line.port} refuses {line.baud} baud parity {line.parity} ({exc}); "
            "pseudo-terminals cannot do even parity"
        ) from None
    except (serial.SerialException, OSError, ValueError) as exc:
        hint = (
            " (another program has it open: is the gateway running?)" if "lock" in str(exc) else ""
        )
        raise PortError(f"cannot open {line.port}: {exc}{hint}") from None


class SerialLink:
    def __init__(self, line: SerialLine) -> None:
        self.line = line
        self._serial: serial.Serial | None = None
        self._buffer = bytearray()
        self._arrived = asyncio.Event()
        self._error: Exception | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        if self._serial is None:
            self._serial = open_serial(self.line)
            line = self.line
            log.info("serial: opened %s at %d baud, parity %s", line.port, line.baud, line.parity)

    def close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(port.fileno())
            with contextlib.suppress(Exception):
                port.close()

    def _on_readable(self) -> None:
        port = self._serial
        if port is None:
            return
        try:
            chunk = port.read(port.in_waiting or 1)
        except (serial.SerialException, OSError) as exc:
            # Unplugged adapter: the fd stays readable and every read fails. Stop
            # watching it at once so the loop does not spin, and let exchange() report.
            self._error = exc
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(port.fileno())
        else:
            self._buffer += chunk
        self._arrived.set()

    async def exchange(
        self,
        request: bytes,
        complete: Callable[[bytes], bool],
        timeout: float,
    ) -> Received:
        """Send ``request`` and collect bytes until ``complete(data)`` or ``timeout``.

        The caller holds the bus lock. Bytes already waiting are line noise or a late
        answer to an earlier request: they are drained first, so they cannot be taken
        for this request's answer.
        """
        self.open()
        port = self._serial
        assert port is not None
        loop = asyncio.get_running_loop()
        try:
            if port.in_waiting:
                port.read(port.in_waiting)
            self._buffer.clear()
            self._error = None
            self._arrived.clear()
            loop.add_reader(port.fileno(), self._on_readable)
            port.write(request)
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise PortError(f"{self.line.port}: {exc}") from None
        # The answer cannot start before our request has left the wire.
        deadline = loop.time() + timeout + len(request) * self.line.char_time_s
        try:
            while True:
                if self._error is not None:
                    error = self._error
                    self.close()
                    raise PortError(f"{self.line.port} failed: {error}")
                if complete(bytes(self._buffer)):
                    return Received(bytes(self._buffer), True)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return Received(bytes(self._buffer), False)
                self._arrived.clear()
                await transport.wait_event(self._arrived, remaining)
        finally:
            if self._serial is not None:
                with contextlib.suppress(Exception):
                    loop.remove_reader(self._serial.fileno())
