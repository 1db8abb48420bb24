"""Which topics each MQTT client of the system may use: the broker's side of the contract.

One source for every place that writes ACLs: the private test/demo broker
(``silverguard.servers.mosquitto``) and the fleet's provisioning, which creates each
gateway's role in Mosquitto's dynamic-security plugin at enrollment. Entries are
``(acltype, topic)`` pairs in the plugin's vocabulary.
"""

from contract.topics import PREFIX, Topic, TopicKind

AclEntry = tuple[str, str]

# What a gateway sends, and what it receives from the fleet.
GATEWAY_SENDS = (
    TopicKind.EVENT,
    TopicKind.TELEMETRY,
    TopicKind.STATUS,
    TopicKind.HEALTH,
    TopicKind.CONFIG_REPORTED,
)
GATEWAY_RECEIVES = (TopicKind.EVENT_ACK, TopicKind.CONFIG, TopicKind.CMD)


def gateway_acls(gateway_id: str) -> list[AclEntry]:
    """The topics one gateway may use: its own, nothing else.

    Subscriptions are literal (no wildcards), so a gateway cannot read another
    gateway's retained config even with a clever filter.
    """
    acls = [("publishClientSend", str(Topic(gateway_id, kind))) for kind in GATEWAY_SENDS]
    for kind in GATEWAY_RECEIVES:
        topic = str(Topic(gateway_id, kind))
        acls += [("subscribeLiteral", topic), ("publishClientReceive", topic)]
    return acls


def fleet_acls(share_group: str = "fleet") -> list[AclEntry]:
    """The fleet reads every gateway's topics and writes acks, configs and commands."""
    return [
        ("subscribePattern", f"{PREFIX}/#"),
        ("subscribePattern", f"$share/{share_group}/{PREFIX}/#"),
        ("publishClientReceive", f"{PREFIX}/#"),
        ("publishClientSend", f"{PREFIX}/+/{TopicKind.EVENT_ACK.value}"),
        ("publishClientSend", f"{PREFIX}/+/{TopicKind.CONFIG.value}"),
        ("publishClientSend", f"{PREFIX}/+/{TopicKind.CMD.value}"),
    ]


def bridge_acls(gateway_ids: list[str]) -> list[AclEntry]:
    """A town broker's bridge account on the central broker: it speaks for the gateways
    of its town only. Its subscriptions are patterns (the bridge's configuration names
    no gateway, so enrolling one needs no restart); what it receives is filtered per
    gateway (``publishClientReceive``), so no town reads another town's configs or
    acknowledgements. Add a gateway by adding its entries to the bridge's role."""
    acls = [("subscribePattern", f"{PREFIX}/+/{kind.value}") for kind in GATEWAY_RECEIVES]
    for gateway_id in gateway_ids:
        acls += [("publishClientSend", str(Topic(gateway_id, k))) for k in GATEWAY_SENDS]
        acls += [("publishClientReceive", str(Topic(gateway_id, k))) for k in GATEWAY_RECEIVES]
    return acls


def bridge_topics() -> list[tuple[str, str]]:
    """(topic filter, direction) a town broker bridges to the central one: what gateways
    send goes out, what the fleet sends them comes in; the topic tree is the same on
    both sides (gateway ids are unique across the deployment)."""
    return [(f"{PREFIX}/+/{kind.value}", "out") for kind in GATEWAY_SENDS] + [
        (f"{PREFIX}/+/{kind.value}", "in") for kind in GATEWAY_RECEIVES
    ]
