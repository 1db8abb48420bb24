"""GSM AT commands for sending an SMS in text mode (3GPP TS 27.005 / 27.007), pure.

What a modem conversation looks like::

    AT          -> OK
    ATE0        -> OK                  (no echo: simpler to read)
    AT+CMEE=1   -> OK                  (numeric +CME ERROR codes instead of bare ERROR)
    AT+CMGF=1   -> OK                  (text mode)
    AT+CSCS="UCS2" -> OK               (or "GSM" for plain English)
    AT+CSMP=17,167,0,8 -> OK           (data coding scheme 8 = UCS2, 0 = GSM 7-bit)
    AT+CMGS="<number>"  -> "> "        (the number in the same character set)
    <text><Ctrl-Z>      -> +CMGS: 42 / OK, or +CMS ERROR: 330, or ERROR

With ``CSCS="UCS2"`` every string crosses the line as UTF-16BE in hex — the text *and*
the number. Text mode cannot concatenate messages, so a message must fit one SMS: 160
GSM characters or 70 UCS2 code units.

This module builds commands and reads answers; it does no I/O.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

CTRL_Z = b"\x1a"
ESC = b"\x1b"  # cancels a message at the "> " prompt

GSM_MAX = 160
UCS2_MAX = 70

# Characters that are the same byte in ASCII and in the GSM 03.38 default alphabet, so
# they survive a modem's "GSM" character set unchanged. '@', '$', '_' and the bracket
# family differ or need escapes; anything else goes as UCS2.
_GSM_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 \n\r.,:;!?()+-/'\"%&<>=#*"
)


class Charset(StrEnum):
    GSM = "GSM"
    UCS2 = "UCS2"


class ModemError(RuntimeError):
    """The modem refused or did not answer; the message says what to check."""


def charset_for(text: str) -> Charset:
    return Charset.GSM if all(c in _GSM_SAFE for c in text) else Charset.UCS2


def max_length(charset: Charset) -> int:
    return GSM_MAX if charset is Charset.GSM else UCS2_MAX


def ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


def fit(text: str) -> str:
    """Cut ``text`` to one SMS in its character set (an ellipsis marks the cut)."""
    charset = charset_for(text)
    limit = max_length(charset)
    if charset is Charset.GSM:
        return text if len(text) <= limit else text[: limit - 3] + "..."
    if ucs2_units(text) <= limit:
        return text
    out = ""
    for char in text:
        if ucs2_units(out + char) > limit - 1:
            break
        out += char
    return out + "…"


def encode_ucs2(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def decode_ucs2(hex_text: str) -> str:
    """Inverse of ``encode_ucs2``; ValueError if it is not UCS2 hex."""
    if len(hex_text) % 4:
        raise ValueError("UCS2 hex comes in groups of four digits")
    return bytes.fromhex(hex_text).decode("utf-16-be")


def in_charset(text: str, charset: Charset) -> str:
    return encode_ucs2(text) if charset is Charset.UCS2 else text


def setup_commands(charset: Charset) -> list[str]:
    """Commands that put the modem in text mode with ``charset``, each answered OK."""
    dcs = 8 if charset is Charset.UCS2 else 0
    return [
        "AT",
        "ATE0",
        "AT+CMEE=1",
        "AT+CMGF=1",
        f'AT+CSCS="{charset.value}"',
        # fo=17 (SMS-SUBMIT, relative validity), vp=167 (one day), pid=0, dcs.
        f"AT+CSMP=17,167,0,{dcs}",
    ]


def cmgs_command(number: str, charset: Charset) -> str:
    return f'AT+CMGS="{in_charset(number, charset)}"'


def message_body(text: str, charset: Charset) -> bytes:
    """What follows the "> " prompt: the text in the character set, then Ctrl-Z."""
    if charset is Charset.GSM and not all(c in _GSM_SAFE for c in text):
        raise ValueError("text has characters outside the GSM-safe set; send it as UCS2")
    body = in_charset(text, charset)
    return body.encode("ascii") + CTRL_Z


# -- reading answers -----------------------------------------------------------------


class FinalKind(StrEnum):
    OK = "OK"
    ERROR = "ERROR"
    CMS_ERROR = "+CMS ERROR"  # message service failure (27.005 §3.2.5)
    CME_ERROR = "+CME ERROR"  # equipment failure (27.007 §9.2)


@dataclass(frozen=True, slots=True)
class Final:
    """A final result code: the command is over."""

    kind: FinalKind
    code: int | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.kind is FinalKind.OK

    def describe(self) -> str:
        if self.kind is FinalKind.CMS_ERROR and self.code is not None:
            return f"+CMS ERROR {self.code} ({CMS_ERRORS.get(self.code, 'see 3GPP TS 27.005')})"
        if self.kind is FinalKind.CME_ERROR:
            return f"+CME ERROR {self.code if self.code is not None else self.text}"
        return self.kind.value


# The +CMS ERROR codes a field technician meets most (3GPP TS 27.005 §3.2.5).
CMS_ERRORS = {
    300: "modem failure",
    301: "SMS service reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid text mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    316: "SIM PUK required",
    320: "memory failure",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    340: "no +CNMA acknowledgement expected",
    500: "unknown error",
}

_ERROR_RE = re.compile(r"^\+(CMS|CME) ERROR:\s*(.*)$")
_CMGS_RE = re.compile(r"^\+CMGS:\s*(\d+)")


def parse_final(line: str) -> Final | None:
    """The final result in one response line, or None for anything else (data, URCs)."""
    text = line.strip()
    if text == "OK":
        return Final(FinalKind.OK)
    if text == "ERROR":
        return Final(FinalKind.ERROR)
    match = _ERROR_RE.match(text)
    if match:
        kind = FinalKind.CMS_ERROR if match.group(1) == "CMS" else FinalKind.CME_ERROR
        detail = match.group(2).strip()
        code = int(detail) if detail.isdigit() else None
        return Final(kind, code, detail)
    return None


def parse_message_reference(line: str) -> int | None:
    """``+CMGS: <mr>`` -> mr (the network's reference for the sent message)."""
    match = _CMGS_RE.match(line.strip())
    return int(match.group(1)) if match else None


class LineReader:
    """Splits the modem's byte stream into lines; spots the bare "> " prompt.

    Modems end lines with CR LF, some with a lone CR; the prompt for the message body
    is "> " with no line end at all, so it is recognised in the unfinished tail.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        lines: list[str] = []
        while True:
            match = re.search(rb"\r\n|\n|\r(?!\n|$)", self._buffer)
            if match is None:
                break
            raw = self._buffer[: match.start()]
            self._buffer = self._buffer[match.end() :]
            line = raw.decode("ascii", errors="replace").strip()
            if line:
                lines.append(line)
        return lines

    def take_prompt(self) -> bool:
        """True (and consume it) if the unfinished tail is the "> " prompt."""
        tail = self._buffer.lstrip(b"\r\n")
        if tail.startswith(b">"):
            self._buffer = tail[1:].lstrip(b" ")
            return True
        return False
