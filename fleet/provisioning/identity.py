"""The fleet's own MQTT identity: a client id nobody can guess, pinned to its account.

A guessable client id ("fleet-<host name>") let anyone with any broker credentials
connect under it: the broker disconnected the fleet, the two knocked each other off
in turn, and the impostor received the other gateways' queued messages (the fleet's
persistent session). So the id is the setting ``mqtt.client_id`` or derived from the
fleet's secret key, and the account is tied to it in Mosquitto's dynamic-security
plugin (``clientid``), which then refuses every other client id for the account and
this id to every other account.

The plugin pins one client id per account: each fleet instance needs its own account.
"""

import asyncio
import hashlib
import hmac
import logging
import socket

from fleet.provisioning.dynsec import BrokerUnavailable, Dynsec, DynsecError
from fleet.registry.vault import Vault

log = logging.getLogger(__name__)

_BACKOFF_MAX_S = 30.0


def mqtt_client_id(vault: Vault, configured: str) -> str:
    """The setting, or ``fleet-`` and 16 hex digits of an HMAC of the host name under the
    secret key: stable per host (the session survives restarts), unguessable without
    the key."""
    if configured:
        return configured
    digest = hmac.new(
        vault.derive_key("mqtt-client-id"), socket.gethostname().encode(), hashlib.sha256
    )
    return f"fleet-{digest.hexdigest()[:16]}"


async def pin(dynsec: Dynsec, username: str, client_id: str, *, timeout_s: float) -> None:
    """Tie ``username`` to ``client_id``, retried until the broker answers.

    An account pinned already is left as it is. Pinned to another id, two instances
    share an account: that is logged, and the broker refuses this instance until it
    has an account of its own (it must not steal the pin from the other).
    """
    backoff = 1.0
    while True:
        try:
            async with asyncio.timeout(timeout_s):
                pinned = await dynsec.pin_client_id(username, client_id)
            break
        except (BrokerUnavailable, TimeoutError) as exc:
            log.info("pinning the fleet's MQTT client id: broker not there yet (%s)", exc)
        except DynsecError as exc:
            log.warning("could not pin the fleet's MQTT client id: %s", exc)
            return
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, _BACKOFF_MAX_S)
    if pinned != client_id:
        log.error(
            "the broker account %r is pinned to another client id than this instance's: "
            "give each fleet instance its own broker account (docs/security.md)",
            username,
        )
