"""A Mosquitto bridge from a town broker to the central broker: the configuration
section a town broker's ``mosquitto.conf`` carries (docs/scaling.md).

Gateways connect to their town's broker; the bridge carries what they send to the
central broker, where the fleet's processes share it, and brings back what the fleet
sends them (acknowledgements, retained configs, commands). The bridge logs in to the
central broker with an account of its own (``contract.acl.bridge_acls``: its town's
gateways only), over TLS when the central broker's CA is given, with a persistent
session (``cleansession false``) so that messages for the town wait while the link is
down.
"""

from dataclasses import dataclass
from pathlib import Path

from contract.acl import bridge_topics
from silverguard.servers.mosquitto import Credentials


@dataclass(frozen=True, slots=True)
class Bridge:
    name: str  # the connection's name; also the bridge's client id on the central broker
    remote_host: str
    remote_port: int
    credentials: Credentials
    ca_file: Path | None = None  # the central broker's CA: TLS, verified

    def config_lines(self) -> list[str]:
        lines = [
            f"connection {self.name}",
            f"address {self.remote_host}:{self.remote_port}",
            f"remote_clientid {self.credentials.client_id or self.name}",
            f"remote_username {self.credentials.username}",
            f"remote_password {self.credentials.password}",
            # The session outlives a broken link: QoS 1 messages for the town queue
            # on the central broker, and the town's queue on the town broker.
            "cleansession false",
            # Mosquitto on both ends: the central broker knows the client is a bridge,
            # keeps the retain flag of what it forwards and does not echo it back.
            "try_private true",
            # No $SYS notifications on the central broker (its ACL would refuse them).
            "notifications false",
            "restart_timeout 1 10",
        ]
        if self.ca_file is not None:
            lines += [f"bridge_cafile {self.ca_file}", "bridge_insecure false"]
        lines += [f"topic {pattern} {direction} 1" for pattern, direction in bridge_topics()]
        return lines
