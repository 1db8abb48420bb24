"""Which contact channels the fleet will send to: no request forgery through apprise.

A channel is an apprise URL, and apprise will POST to whatever host a ``json://`` or
``form://`` URL names — from inside the fleet's network. A channel set to
``json://<InfluxDB>/query?q=CREATE DATABASE …`` made the fleet run that statement at
the next SOS. So a channel is accepted only if

- its scheme is in the allow-list (setting ``channel_schemes``), and
- when its URL names the host the request goes to (every scheme but the hosted
  services in ``FIXED_ENDPOINT_SCHEMES``), that host resolves to public addresses
  only — no loopback, private, link-local, multicast or reserved address — unless an
  administrator allows the host (setting ``channel_allow_hosts``, "name" or
  "name:port").

It is checked when staff set a channel and again before every send (a name may
resolve elsewhere by then). What remains: apprise resolves the name again when it
sends (a rebinding DNS server could answer differently within that moment) and
follows HTTP redirects; an egress firewall is the complete answer (docs/security.md).
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

# Hosted services whose URL holds tokens, not a host: apprise sends to the service's own
# fixed address whatever the URL says.
FIXED_ENDPOINT_SCHEMES = frozenset(
    {
        "wecombot",
        "dingtalk",
        "feishu",
        "lark",
        "wxpusher",
        "pushplus",
        "schan",
        "twilio",
        "vonage",
        "plivo",
        "sinch",
        "clicksend",
    }
)

# The default allow-list: chat bots and SMS services used in China and abroad, and the
# self-hosted push and webhook schemes (which get the host check).
DEFAULT_CHANNEL_SCHEMES = (
    *sorted(FIXED_ENDPOINT_SCHEMES),
    "bark",
    "barks",
    "ntfy",
    "ntfys",
    "gotify",
    "gotifys",
    "json",
    "jsons",
    "form",
    "forms",
)

Resolve = Callable[[str, int | None], list[str]]


class ChannelRefused(ValueError):
    """A channel the fleet will not send to; the message says why (never the URL)."""


def resolve(host: str, port: int | None) -> list[str]:
    """Every address ``host`` resolves to (as apprise's HTTP client would look it up)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    schemes: frozenset[str]
    allow_hosts: frozenset[str] = frozenset()  # lower-case "host" or "host:port"
    resolver: Resolve = resolve

    @classmethod
    def from_settings(cls, schemes: Iterable[str], allow_hosts: Iterable[str]) -> "ChannelPolicy":
        return cls(
            frozenset(s.strip().lower() for s in schemes),
            frozenset(h.strip().lower() for h in allow_hosts),
        )

    def check(self, url: str) -> None:
        """Raise ChannelRefused unless the fleet may send to ``url``. Blocking (DNS)."""
        scheme, sep, _ = url.partition("://")
        scheme = scheme.strip().lower()
        if not sep:
            raise ChannelRefused("not a channel URL (scheme://...)")
        if scheme not in self.schemes:
            raise ChannelRefused(
                f"the scheme {scheme}:// is not one the fleet sends to; allowed: "
                f"{', '.join(sorted(self.schemes))} (an admin sets channel_schemes)"
            )
        if scheme in FIXED_ENDPOINT_SCHEMES:
            return
        parts = urlsplit(url)
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            raise ChannelRefused("the URL's host or port cannot be read") from None
        if not host:
            raise ChannelRefused("the URL names no host")
        if scheme in ("ntfy", "ntfys") and parts.path.strip("/") == "":
            return  # ntfy://<topic>: the topic on the public ntfy.sh service
        if host in self.allow_hosts or (port is not None and f"{host}:{port}" in self.allow_hosts):
            return
        if f"[{host}]:{port}" in self.allow_hosts:
            return
        addresses = self.resolver(host, port)
        if not addresses:
            raise ChannelRefused(f"the host {host} does not resolve")
        private = [a for a in addresses if not _public(a)]
        if private:
            raise ChannelRefused(
                f"the host {host} resolves to a loopback, private or link-local address "
                f"({private[0]}); the fleet does not send into its own network unless an "
                "admin allows the host (channel_allow_hosts)"
            )

    def check_all(self, urls: Iterable[str]) -> None:
        for i, url in enumerate(urls, start=1):
            try:
                self.check(url)
            except ChannelRefused as exc:
                raise ChannelRefused(f"channel {i}: {exc}") from None


R = TypeVar("R")


def guarded(
    send: Callable[[str, str, str], Awaitable[R]],
    policy: ChannelPolicy,
    refused: Callable[[str], R],
) -> Callable[[str, str, str], Awaitable[R]]:
    """``send`` that first checks the channel (in a worker thread: DNS blocks)."""

    async def checked(url: str, title: str, body: str) -> R:
        try:
            await asyncio.to_thread(policy.check, url)
        except ChannelRefused as exc:
            return refused(f"channel refused by the fleet's channel policy: {exc}")
        return await send(url, title, body)

    return checked
