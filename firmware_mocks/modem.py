"""A GSM modem's AT port, emulated on a pseudo-terminal, for the offline-SMS tests.

It answers like the AT port of a USB cellular modem (SIMCom / Quectel style): echo on
until ``ATE0``, text mode only after ``AT+CMGF=1``, ``AT+CSCS`` for the character set
(with ``"UCS2"`` the number and text arrive as UTF-16BE hex), the ``> `` prompt after
``AT+CMGS``, the body up to Ctrl-Z (Esc cancels), then ``+CMGS: <mr>`` and ``OK``.
Faults can be injected: ``+CMS ERROR`` codes, or silence.

The gateway opens ``emulator.port`` (the pty's slave, e.g. /dev/pts/7) with its real
pyserial code; what it sent is in ``emulator.messages``, decoded.
"""

import contextlib
import os
import pty
import re
import select
import threading
import time
import tty
from dataclasses import dataclass

_CTRL_Z = 0x1A
_ESC = 0x1B


@dataclass(frozen=True, slots=True)
class SentSms:
    number: str
    text: str
    charset: str
    reference: int
    at: float


class ModemEmulator:
    def __init__(self) -> None:
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # no line discipline: bytes pass as a real UART's would
        self.port = os.ttyname(self._slave)
        self.messages: list[SentSms] = []
        self.commands: list[str] = []  # every command line received, for assertions
        self._echo = True
        self._text_mode = False
        self._charset = "GSM"
        self._reference = 0
        self._line = bytearray()
        self._body: bytearray | None = None
        self._recipient = ""
        self._cms_errors: list[int] = []  # answers for the next sends, in order
        self.silent = False  # answer nothing at all (a hung modem)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="modem-emulator", daemon=True)

    def start(self) -> "ModemEmulator":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> "ModemEmulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next_sends(self, *cms_codes: int) -> None:
        """Answer the next ``AT+CMGS`` bodies with these ``+CMS ERROR`` codes."""
        with self._lock:
            self._cms_errors.extend(cms_codes)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[SentSms]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"the modem got {len(self.messages)} SMS, not {count}, in {timeout:.0f}s"
                    )
                self._changed.wait(left)
            return list(self.messages)

    # -- the serial line -------------------------------------------------------------------

    def _write(self, text: str) -> None:
        # OSError: nobody on the other end (the port closed meanwhile).
        with contextlib.suppress(OSError):
            os.write(self._master, text.encode("ascii"))

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 1024)
            except OSError:
                continue  # EIO while the slave side is closed: wait for it to reopen
            if not self.silent:
                for byte in data:
                    self._byte(byte)

    def _byte(self, byte: int) -> None:
        if self._body is not None:
            if byte == _CTRL_Z:
                body, self._body = bytes(self._body), None
                self._finish_sms(body.decode("ascii", errors="replace"))
            elif byte == _ESC:
                self._body = None
                self._write("\r\nOK\r\n")
            else:
                self._body.append(byte)
                if self._echo:
                    self._write(chr(byte))
            return
        if byte in (0x0D, 0x0A):
            if self._line:
                line, self._line = self._line.decode("ascii", errors="replace"), bytearray()
                if self._echo:
                    self._write(line + "\r")
                self._command(line.strip())
            return
        self._line.append(byte)

    def _command(self, line: str) -> None:
        with self._lock:
            self.commands.append(line)
        upper = line.upper()
        if upper in ("AT", "AT+CMEE=1", "AT+CMEE=0", "AT+CMEE=2"):
            self._ok()
        elif upper in ("ATE0", "ATE1"):
            self._echo = upper == "ATE1"
            self._ok()
        elif upper in ("AT+CMGF=1", "AT+CMGF=0"):
            self._text_mode = upper.endswith("1")
            self._ok()
        elif m := re.fullmatch(r'AT\+CSCS="(GSM|UCS2|IRA)"', line, re.IGNORECASE):
            self._charset = m.group(1).upper()
            self._ok()
        elif re.fullmatch(r"AT\+CSMP=\d+,\d+,\d+,\d+", upper):
            self._ok()
        elif m := re.fullmatch(r'AT\+CMGS="([^"]*)"(?:,\d+)?', line, re.IGNORECASE):
            if not self._text_mode:
                self._write("\r\n+CMS ERROR: 304\r\n")  # PDU mode wants a length, not a number
                return
            try:
                self._recipient = self._decode(m.group(1))
            except ValueError:
                self._write("\r\n+CMS ERROR: 304\r\n")
                return
            self._body = bytearray()
            self._write("\r\n> ")
        else:
            self._write("\r\nERROR\r\n")

    def _ok(self) -> None:
        self._write("\r\nOK\r\n")

    def _decode(self, text: str) -> str:
        if self._charset == "UCS2":
            if len(text) % 4:
                raise ValueError("not UCS2 hex")
            return bytes.fromhex(text).decode("utf-16-be")
        return text

    def _finish_sms(self, body: str) -> None:
        with self._lock:
            error = self._cms_errors.pop(0) if self._cms_errors else None
        if error is not None:
            self._write(f"\r\n+CMS ERROR: {error}\r\n")
            return
        try:
            text = self._decode(body)
        except ValueError:
            self._write("\r\n+CMS ERROR: 304\r\n")
            return
        limit = 70 if self._charset == "UCS2" else 160
        units = len(text.encode("utf-16-be")) // 2 if self._charset == "UCS2" else len(text)
        if units > limit:
            self._write("\r\n+CMS ERROR: 305\r\n")  # longer than one SMS in text mode
            return
        with self._changed:
            self._reference = (self._reference + 1) % 256
            self.messages.append(
                SentSms(self._recipient, text, self._charset, self._reference, time.time())
            )
            self._changed.notify_all()
        self._write(f"\r\n+CMGS: {self._reference}\r\n\r\nOK\r\n")
