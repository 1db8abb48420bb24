"""A USB cellular modem's AT port over pyserial: send one SMS, synchronously.

Blocking by nature (pyserial); ``SmsModem`` runs each send in a worker thread so the
gateway's event loop keeps deciding events meanwhile. The port is opened for each
batch of messages and closed after, so a modem that was unplugged, reset or
re-enumerated is found again on the next try.

Phone numbers and message texts never reach the log from here.
"""

import asyncio
import logging
import time
from collections.abc import Callable

import serial

from edge.offline.gsm import (
    Charset,
    Final,
    LineReader,
    ModemError,
    charset_for,
    cmgs_command,
    fit,
    message_body,
    parse_final,
    parse_message_reference,
    setup_commands,
)
from edge.settings import ModemSettings

log = logging.getLogger(__name__)

_READ_CHUNK = 256
_READ_TIMEOUT_S = 0.1


class _Conversation:
    def __init__(self, port: serial.Serial, command_timeout_s: float) -> None:
        self._port = port
        self._timeout = command_timeout_s
        self._reader = LineReader()

    def _read(self) -> bytes:
        data: bytes = self._port.read(_READ_CHUNK)
        return data

    def command(self, text: str, timeout_s: float | None = None) -> tuple[list[str], Final]:
        """Send one command; return the lines before its final result, and the result."""
        self._port.reset_input_buffer()
        self._port.write(text.encode("ascii") + b"\r")
        return self._until_final(text, timeout_s or self._timeout)

    def _until_final(self, sent: str, timeout_s: float) -> tuple[list[str], Final]:
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        while time.monotonic() < deadline:
            for line in self._reader.feed(self._read()):
                if line == sent:
                    continue  # the modem's echo of our command
                final = parse_final(line)
                if final is not None:
                    return lines, final
                lines.append(line)
        name = sent.split("=", maxsplit=1)[0]
        raise ModemError(f"the modem did not answer {name} within {timeout_s:.0f} s")

    def wait_prompt(self, sent: str) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            for line in self._reader.feed(self._read()):
                final = parse_final(line)
                if final is not None and not final.ok:
                    raise ModemError(f"the modem refused AT+CMGS: {final.describe()}")
            if self._reader.take_prompt():
                return
        raise ModemError("the modem gave no '>' prompt after AT+CMGS")

    def write(self, data: bytes) -> None:
        self._port.write(data)

    def until_final(self, sent: str, timeout_s: float) -> tuple[list[str], Final]:
        return self._until_final(sent, timeout_s)


SerialFactory = Callable[[str, int], serial.Serial]


def _open_serial(port: str, baud: int) -> serial.Serial:
    # 8N1, no flow control: what USB modems' AT ports expect (the baud rate is
    # nominal on a USB CDC-ACM port but must still be set).
    return serial.Serial(port, baud, timeout=_READ_TIMEOUT_S, write_timeout=5)


class Modem:
    """The blocking driver: ``send(numbers, text)`` over one opened port."""

    def __init__(self, settings: ModemSettings, open_port: SerialFactory = _open_serial) -> None:
        self.settings = settings
        self._open_port = open_port

    def send(self, numbers: list[str], text: str) -> list[int | ModemError]:
        """Send ``text`` to each number; per number, its message reference or the error."""
        text = fit(text)
        charset = charset_for(text)
        try:
            port = self._open_port(self.settings.port, self.settings.baud)
        except (serial.SerialException, OSError) as exc:
            error = ModemError(f"cannot open the modem's port {self.settings.port}: {exc}")
            return [error for _ in numbers]
        try:
            talk = _Conversation(port, self.settings.command_timeout_s)
            try:
                self._setup(talk, charset)
            except (ModemError, serial.SerialException, OSError) as exc:
                error = exc if isinstance(exc, ModemError) else ModemError(f"modem I/O: {exc}")
                return [error for _ in numbers]
            results: list[int | ModemError] = []
            for number in numbers:
                try:
                    results.append(self._send_one(talk, number, text, charset))
                except ModemError as exc:
                    results.append(exc)
                except (serial.SerialException, OSError) as exc:
                    results.append(ModemError(f"modem I/O: {exc}"))
            return results
        finally:
            port.close()

    def _setup(self, talk: _Conversation, charset: Charset) -> None:
        for command in setup_commands(charset):
            _, final = talk.command(command)
            if not final.ok:
                raise ModemError(f"the modem refused {command.split('=')[0]}: {final.describe()}")

    def _send_one(self, talk: _Conversation, number: str, text: str, charset: Charset) -> int:
        command = cmgs_command(number, charset)
        talk.write(command.encode("ascii") + b"\r")
        talk.wait_prompt(command)
        talk.write(message_body(text, charset))
        # The network, not the modem, answers +CMGS: this can take tens of seconds.
        lines, final = talk.until_final(command, self.settings.send_timeout_s)
        if not final.ok:
            raise ModemError(f"the SMS was not sent: {final.describe()}")
        for line in lines:
            reference = parse_message_reference(line)
            if reference is not None:
                return reference
        raise ModemError("the modem said OK but gave no +CMGS message reference")


class SmsModem:
    """The asynchronous face of ``Modem``: one send at a time, in a worker thread."""

    def __init__(self, modem: Modem) -> None:
        self._modem = modem
        self._lock = asyncio.Lock()

    async def send(self, numbers: list[str], text: str) -> list[int | ModemError]:
        async with self._lock:
            return await asyncio.to_thread(self._modem.send, numbers, text)
