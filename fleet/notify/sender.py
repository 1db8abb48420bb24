"""Sending one message over one channel — the only module that imports apprise.

apprise covers SMS gateways, push (ntfy, Gotify, FCM ...), WeCom and DingTalk bots,
e-mail and generic webhooks behind one URL scheme per channel. Each delivery is one
channel, so a failing channel is retried on its own and never holds up the others.
"""

import logging
import re
from dataclasses import dataclass

import apprise

from fleet.errors import Invalid

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    error: str = ""


class ChannelError(Invalid):
    """A channel URL apprise does not understand."""


# What in an apprise log line may be a secret: a URL (tokens, ntfy topics, numbers in
# the path), an e-mail address, a phone number.
_SECRETS = (
    (re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S*"), "<url>"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<address>"),
    (re.compile(r"\+?\d[\d -]{6,}\d"), "<number>"),
)


class _Redact(logging.Filter):
    """apprise logs channel URLs in full ("Unsupported URL: ...", "Sent ntfy
    notification to 'https://…/topic'"), and channel URLs hold tokens and phone numbers.
    Its records are kept, with anything that may be such a secret blanked out."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "URL" in message:
            message = "a channel URL was refused or logged by apprise (withheld)"
        for pattern, blank in _SECRETS:
            message = pattern.sub(blank, message)
        record.msg, record.args = message, ()
        return True


_apprise_log = logging.getLogger("apprise")
_apprise_log.addFilter(_Redact())
# apprise reports every successful send at INFO (with the target); the notifier logs
# its own line per delivery, so only apprise's warnings and errors are kept.
_apprise_log.setLevel(logging.WARNING)


def validate_channel(url: str) -> None:
    if not apprise.Apprise().add(url):
        raise ChannelError("not a channel URL apprise understands (see docs/alerting.md)")


async def send(url: str, title: str, body: str) -> SendResult:
    """Send over one channel; the error text never contains the URL (a secret)."""
    target = apprise.Apprise()
    if not target.add(url):
        return SendResult(False, "channel URL not understood (was it changed to a bad one?)")
    ok = await target.async_notify(body=body, title=title, notify_type=apprise.NotifyType.FAILURE)
    return SendResult(bool(ok), "" if ok else "the channel's service refused or did not answer")
