"""The channel policy (fleet/notify/channel_policy.py): schemes, hosts, and the check
again before a send — with a resolver handed in, so no DNS is needed."""

import ipaddress

import pytest

from fleet.notify import sender
from fleet.notify.channel_policy import (
    DEFAULT_CHANNEL_SCHEMES,
    ChannelPolicy,
    ChannelRefused,
    guarded,
)

NAMES = {
    "hooks.example.org": ["93.184.216.34"],
    "intranet.example.org": ["10.1.2.3"],
    "rebound.example.org": ["93.184.216.34", "127.0.0.1"],  # one bad address is enough
    "sms.internal": ["192.168.7.7"],
}


def resolve(host: str, port: int | None) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]  # a literal resolves to itself
    except ValueError:
        return NAMES.get(host, [])


def policy(*allow: str) -> ChannelPolicy:
    return ChannelPolicy(frozenset(DEFAULT_CHANNEL_SCHEMES), frozenset(allow), resolver=resolve)


@pytest.mark.parametrize(
    "url",
    [
        "json://hooks.example.org/alert",
        "jsons://93.184.216.34:8443/alert",
        "wecombot://0123456789abcdef",  # a hosted service: its URL holds a token
        "dingtalk://token/",
        "ntfy://my-topic",  # the public ntfy.sh
    ],
)
def test_allowed(url: str):
    policy().check(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("json://127.0.0.1:8086/query?q=CREATE+DATABASE+x", "loopback"),
        ("json://intranet.example.org/x", "private"),
        ("json://rebound.example.org/x", "127.0.0.1"),
        ("json://169.254.169.254/latest/meta-data", "link-local"),
        ("jsons://[::1]/x", "loopback"),
        ("json://[::ffff:10.0.0.1]/x", "private"),
        ("form://224.0.0.1/x", "private"),
        ("json://nowhere.example.org/x", "does not resolve"),
        ("ntfys://intranet.example.org/topic", "private"),  # a self-hosted ntfy server
        ("xml://hooks.example.org/x", "not one the fleet sends to"),
        ("mailto://user:pw@hooks.example.org", "not one the fleet sends to"),
        ("not a url", "not a channel URL"),
        ("json:///path-only", "names no host"),
    ],
)
def test_refused(url: str, why: str):
    with pytest.raises(ChannelRefused, match=why.split(maxsplit=1)[0]):
        policy().check(url)


def test_an_admin_allows_a_host_or_a_host_and_port():
    policy("sms.internal").check("json://sms.internal/send")
    policy("sms.internal:8080").check("json://sms.internal:8080/send")
    with pytest.raises(ChannelRefused):
        policy("sms.internal:8080").check("json://sms.internal:9090/send")
    policy("127.0.0.1:5000").check("json://127.0.0.1:5000/hook")


def test_check_all_names_the_channel():
    with pytest.raises(ChannelRefused, match="channel 2"):
        policy().check_all(["json://hooks.example.org/a", "json://10.0.0.1/b"])


async def test_a_send_is_checked_again_and_refused_without_a_request():
    sent: list[str] = []

    async def send(url: str, title: str, body: str) -> sender.SendResult:
        sent.append(url)
        return sender.SendResult(True)

    checked = guarded(send, policy(), lambda why: sender.SendResult(False, why))
    refused = await checked("json://intranet.example.org/x", "t", "b")
    assert not refused.ok
    assert "channel policy" in refused.error
    assert "intranet" in refused.error  # the host, never the whole URL with its tokens
    assert (await checked("json://hooks.example.org/x", "t", "b")).ok
    assert sent == ["json://hooks.example.org/x"]
