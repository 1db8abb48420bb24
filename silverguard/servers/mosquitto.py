"""A private Mosquitto 2 broker with the dynamic-security plugin.

Authentication and ACLs live in the plugin's JSON file, managed at run time: the
fleet's provisioning creates one client and one role per gateway, so a gateway can
publish and subscribe only under ``sg/v1/gw/<its id>/``. Persistence is on, saved every
second, so that queued QoS 1 messages survive a SIGKILL (all but the last second's).

With ``tls=True`` a second listener speaks TLS on ``tls_port`` with a certificate for
127.0.0.1 and localhost signed by a private CA (``tls_files.ca_file``): the link that
gateways use. The plain listener stays on the loopback for local clients (the fleet
on the same host, ``mosquitto_ctrl``). Ports, certificates and the persisted store are
kept across ``restart()`` and ``kill()`` + ``start()``.
"""

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from contract.acl import fleet_acls, gateway_acls
from silverguard.servers.process import (
    PORT_ATTEMPTS,
    ChildProcess,
    ServerError,
    free_port,
    port_clash,
    port_open,
)
from silverguard.servers.tls import TlsFiles, write_server_tls

__all__ = [
    "Credentials",
    "MosquittoServer",
    "find_dynsec_plugin",
    "fleet_acls",
    "gateway_acls",
]

DYNSEC_PLUGIN_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/arm-linux-gnueabihf/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
)


def find_dynsec_plugin() -> str:
    for candidate in DYNSEC_PLUGIN_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise ServerError(
        "Mosquitto's dynamic-security plugin was not found; install the 'mosquitto' package"
    )


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    # The only MQTT client id this account may connect with (dynamic security's
    # ``clientid``): another client cannot take its session over, nor it another's.
    client_id: str = ""


_RUNNING = " running"  # "mosquitto version 2.0.11 running", logged once listening


class MosquittoServer:
    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        tls: bool = False,
        tls_port: int | None = None,
        bridge_lines: list[str] | None = None,
    ) -> None:
        """``bridge_lines``: bridge sections for this broker's configuration
        (``silverguard.servers.bridge.Bridge.config_lines``), a town broker's."""
        self.workdir = Path(workdir)
        self.bridge_lines = bridge_lines or []
        self.port = port or free_port()
        self.tls_port = (tls_port or free_port()) if tls else None
        self._fixed_ports = port is not None or tls_port is not None
        self._started_once = False
        self._runs_logged = 0
        self.tls_files: TlsFiles | None = None
        self.admin = Credentials("sg-admin", secrets.token_urlsafe(18))
        self.dynsec_file = self.workdir / "dynamic-security.json"
        self.conf_file = self.workdir / "mosquitto.conf"
        self._process = ChildProcess(
            "mosquitto", ["mosquitto", "-c", str(self.conf_file)], self.workdir / "mosquitto.log"
        )

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.dynsec_file.exists():
            _run(
                [
                    "mosquitto_ctrl",
                    "dynsec",
                    "init",
                    str(self.dynsec_file),
                    self.admin.username,
                    self.admin.password,
                ]
            )
        lines = [
            f"listener {self.port} 127.0.0.1",
        ]
        if self.tls_port is not None:
            self.tls_files = write_server_tls(self.workdir / "tls")
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.tls_files.ca_file}",
                f"certfile {self.tls_files.cert_file}",
                f"keyfile {self.tls_files.key_file}",
                "tls_version tlsv1.2",
            ]
        lines += [
            "allow_anonymous false",
            f"plugin {find_dynsec_plugin()}",
            f"plugin_opt_config_file {self.dynsec_file}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            # Save the in-memory store every second: a SIGKILLed broker would otherwise
            # lose queued QoS 1 messages it had already acknowledged (the default is
            # every 30 min). Not `autosave_on_changes`: it writes the whole store after
            # every change, up to ~30 times a second, and at the district's load that
            # stalled the broker (docs/benchmarks.md, "the broker's store").
            "autosave_interval 1",
            "max_queued_messages 100000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",  # includes "running", our readiness signal
        ]
        lines += self.bridge_lines
        if os.geteuid() == 0:
            # As root, Mosquitto drops to user 'mosquitto', which cannot read a private
            # temporary directory; tests and the demo keep it as the invoking user.
            lines.insert(0, "user root")
        self.conf_file.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 15.0) -> "MosquittoServer":
        if shutil.which("mosquitto") is None:
            raise ServerError(
                "mosquitto is not installed (apt-get install mosquitto mosquitto-clients)"
            )
        for attempt in range(PORT_ATTEMPTS):
            self._write_config()
            # Ready when *this* start logged "running": an open port alone may be another
            # process's that took the port first.
            self._runs_logged = self._process.log_count(_RUNNING)
            self._process.start()
            try:
                self._process.wait_ready(self._listening, timeout)
                break
            except ServerError as exc:
                last = attempt == PORT_ATTEMPTS - 1
                if self._started_once or self._fixed_ports or last or not port_clash(exc):
                    raise
                self.port = free_port()
                if self.tls_port is not None:
                    self.tls_port = free_port()
        self._started_once = True
        return self

    def _listening(self) -> bool:
        return (
            self._process.log_count(_RUNNING) > self._runs_logged
            and port_open(self.port)
            and (self.tls_port is None or port_open(self.tls_port))
        )

    def stop(self) -> None:
        self._process.stop()

    def kill(self) -> None:
        self._process.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process.running

    def ctrl(self, *args: str) -> str:
        """Run one ``mosquitto_ctrl dynsec`` command against this broker."""
        return _run(
            [
                "mosquitto_ctrl",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-u",
                self.admin.username,
                "-P",
                self.admin.password,
                "dynsec",
                *args,
            ]
        )

    def preload_clients(self, accounts: list[tuple[Credentials, list[tuple[str, str]]]]) -> None:
        """Write accounts (each with a role of its own holding its ACLs) straight into the
        plugin's file before the broker starts: thousands in a second, where
        ``add_client`` runs a few ``mosquitto_ctrl`` commands each (the city simulation
        has 2,000 gateways). Passwords are stored as the plugin stores them: PBKDF2-SHA512,
        101 iterations, a 12-byte salt, base64."""
        if self.running:
            raise ServerError("preload_clients: the broker runs already; use add_client")
        self._write_config()  # makes the plugin's file if there is none
        data = json.loads(self.dynsec_file.read_text())
        for creds, acls in accounts:
            salt = os.urandom(12)
            digest = hashlib.pbkdf2_hmac("sha512", creds.password.encode(), salt, 101, 64)
            data["clients"].append(
                {
                    "username": creds.username,
                    "clientid": creds.client_id or creds.username,
                    "password": base64.b64encode(digest).decode(),
                    "salt": base64.b64encode(salt).decode(),
                    "iterations": 101,
                    "roles": [{"rolename": creds.username, "priority": 1}],
                }
            )
            data["roles"].append(
                {
                    "rolename": creds.username,
                    "acls": [
                        {"acltype": kind, "topic": topic, "priority": 5, "allow": True}
                        for kind, topic in acls
                    ],
                }
            )
        self.dynsec_file.write_text(json.dumps(data))

    def add_client(
        self,
        username: str,
        acls: list[tuple[str, str]],
        password: str | None = None,
        *,
        client_id: str | None = None,
    ) -> Credentials:
        """A client account with one role holding ``acls``, pinned to ``client_id``
        (default: the user name) — every account of the system connects with its own
        client id only, so nobody can knock another client off by taking its id."""
        password = password or secrets.token_urlsafe(18)
        client_id = client_id or username
        self.ctrl("createClient", username, "-c", client_id, "-p", password)
        self.ctrl("createRole", username)
        for acl_type, topic in acls:
            self.ctrl("addRoleACL", username, acl_type, topic, "allow", "5")
        self.ctrl("addClientRole", username, username, "1")
        return Credentials(username, password, client_id)

    def add_gateway(self, gateway_id: str) -> Credentials:
        """A gateway's account: its own topics, and its gateway id as client id."""
        return self.add_client(gateway_id, gateway_acls(gateway_id), client_id=gateway_id)

    def add_fleet(
        self, username: str = "fleet", share_group: str = "fleet", client_id: str | None = None
    ) -> Credentials:
        """A fleet instance's account, pinned to an unguessable client id (each fleet
        instance needs an account of its own: the plugin pins one id per account)."""
        client_id = client_id or f"{username}-{secrets.token_hex(8)}"
        return self.add_client(username, fleet_acls(share_group), client_id=client_id)


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ServerError(
            f"{argv[0]} {' '.join(argv[1:2])} failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout
