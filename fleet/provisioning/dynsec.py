"""Mosquitto's dynamic-security plugin, driven over MQTT from the fleet.

Commands are JSON published to ``$CONTROL/dynamic-security/v1``; the plugin answers on
``$CONTROL/dynamic-security/v1/response`` with one entry per command, carrying an
``error`` string when it failed and the ``correlationData`` we sent. Every admin
connection subscribed there sees every answer, so answers are matched by correlation.

Each call opens a short connection with the admin credential from the fleet's
settings (a separate identity from the fleet's ingest client, which has no control
rights). See https://mosquitto.org/documentation/dynamic-security/.
"""

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import aiomqtt

from contract.acl import AclEntry
from fleet.errors import Unavailable

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"

# Answers that mean "already the way we want it" for idempotent steps.
_NOT_FOUND = ("Client not found", "Role not found")


class DynsecError(Unavailable):
    """The broker refused a command; the message has the plugin's reason."""


class BrokerUnavailable(DynsecError):
    """The broker could not be reached or did not answer in time."""


def role_name(username: str) -> str:
    return f"sg-gateway-{username}"


class Dynsec:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        ca_file: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._ca_file = ca_file
        self._timeout = timeout

    @property
    def configured(self) -> bool:
        return bool(self._username)

    async def execute(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send commands in one message; return the plugin's answers in the same order."""
        if not self.configured:
            raise DynsecError(
                "no dynamic-security admin configured (provisioning.dynsec_username); "
                "the fleet cannot create gateway credentials"
            )
        tagged = []
        for command in commands:
            tagged.append({**command, "correlationData": secrets.token_hex(8)})
        wanted = {c["correlationData"]: i for i, c in enumerate(tagged)}
        answers: list[dict[str, Any] | None] = [None] * len(tagged)
        try:
            async with asyncio.timeout(self._timeout):
                async with aiomqtt.Client(
                    self._host,
                    self._port,
                    username=self._username,
                    password=self._password,
                    identifier=f"fleet-dynsec-{secrets.token_hex(4)}",
                    tls_params=(
                        aiomqtt.TLSParameters(ca_certs=str(self._ca_file))
                        if self._ca_file
                        else None
                    ),
                    timeout=self._timeout,
                ) as client:
                    await client.subscribe(RESPONSE_TOPIC, qos=1)
                    await client.publish(
                        CONTROL_TOPIC, json.dumps({"commands": tagged}).encode(), qos=1
                    )
                    async for message in client.messages:
                        for answer in _answers(message.payload):
                            index = wanted.pop(str(answer.get("correlationData")), None)
                            if index is not None:
                                answers[index] = answer
                        if not wanted:
                            break
        except TimeoutError:
            raise BrokerUnavailable(
                f"the broker at {self._host}:{self._port} did not answer within "
                f"{self._timeout:.0f}s"
            ) from None
        except aiomqtt.MqttError as exc:
            raise BrokerUnavailable(
                f"cannot reach the broker at {self._host}:{self._port}: {exc}"
            ) from None
        return [a or {} for a in answers]

    async def _run(self, commands: list[dict[str, Any]], *, tolerate: tuple[str, ...] = ()) -> None:
        for command, answer in zip(commands, await self.execute(commands), strict=True):
            error = answer.get("error")
            if error and error not in tolerate:
                raise DynsecError(f"{command['command']}: {error}")

    async def provision(
        self, username: str, password: str, acls: list[AclEntry], *, client_id: str
    ) -> None:
        """Create (or re-create) a client whose only role allows exactly ``acls`` and
        that may connect with ``client_id`` only.

        Pinning the client id means that nobody — not even with another account's
        valid credentials — can connect as this client and take over its session (the
        broker would disconnect the gateway and hand its queued messages to the
        impostor), and that this account cannot take over anyone else's.
        Re-enrolling replaces the old client and role whole, so nothing of a previous
        identity (password, stray ACL) survives.
        """
        role = role_name(username)
        await self._run(
            [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": role},
            ],
            tolerate=_NOT_FOUND,
        )
        await self._run(
            [
                {
                    "command": "createRole",
                    "rolename": role,
                    "acls": [
                        {"acltype": acltype, "topic": topic, "priority": 5, "allow": True}
                        for acltype, topic in acls
                    ],
                },
                {
                    "command": "createClient",
                    "username": username,
                    "password": password,
                    "clientid": client_id,
                    "roles": [{"rolename": role, "priority": 1}],
                },
            ]
        )

    async def pin_client_id(self, username: str, client_id: str) -> str:
        """Tie an account to one client id if it is not tied yet; return the id it is
        tied to (which may be another: then this caller's connections will be refused,
        and it must not steal the pin from whoever set it)."""
        (answer,) = await self.execute([{"command": "getClient", "username": username}])
        if answer.get("error"):
            raise DynsecError(f"getClient {username}: {answer['error']}")
        client = (answer.get("data") or {}).get("client") or {}
        pinned = str(client.get("clientid") or "")
        if pinned:
            return pinned
        await self._run([{"command": "setClientId", "username": username, "clientid": client_id}])
        return client_id

    async def disable(self, username: str) -> None:
        """Refuse the client from now on and disconnect it if it is connected."""
        await self._run([{"command": "disableClient", "username": username}], tolerate=_NOT_FOUND)


def _answers(payload: Any) -> list[dict[str, Any]]:
    try:
        body = json.loads(bytes(payload))
    except (TypeError, ValueError):
        return []
    responses = body.get("responses") if isinstance(body, dict) else None
    return [r for r in responses if isinstance(r, dict)] if isinstance(responses, list) else []
