"""Sending one message over a contact's channels — the only module that imports apprise.

apprise covers SMS gateways, push (ntfy, Gotify, FCM ...), WeCom and DingTalk bots,
e-mail and generic webhooks behind one URL scheme per channel.
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
        raise ChannelError("not a channel URL apprise understands (see docs/notifications.md)")


async def send(urls: list[str], title: str, body: str) -> SendResult:
    if not urls:
        return SendResult(False, "no channels")
    targets = apprise.Apprise()
    for url in urls:
        if not targets.add(url):
            # Never log the URL itself: it holds tokens and phone numbers.
            log.warning("notify: a channel URL was not understood and is skipped")
    if not len(targets):
        return SendResult(False, "no usable channels")
    ok = await targets.async_notify(body=body, title=title, notify_type=apprise.NotifyType.FAILURE)
    return SendResult(bool(ok), "" if ok else "delivery failed on at least one channel")
