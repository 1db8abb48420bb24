"""Sending one message over one channel — the only module that imports apprise.

apprise covers SMS gateways, push (ntfy, Gotify, FCM ...), WeCom and DingTalk bots,
e-mail and generic webhooks behind one URL scheme per channel. Each delivery is one
channel, so a failing channel is retried on its own and never holds up the others.
"""

import logging
from dataclasses import dataclass

import apprise

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    error: str = ""


class ChannelError(ValueError):
    """A channel URL apprise does not understand."""


class _NoUrls(logging.Filter):
    """apprise logs a URL it cannot parse in full ("Unsupported URL: ..."), and channel
    URLs hold tokens and phone numbers: such records are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "URL" not in record.getMessage()


logging.getLogger("apprise").addFilter(_NoUrls())


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
