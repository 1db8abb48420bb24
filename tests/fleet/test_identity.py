"""The fleet's MQTT client id (fleet/provisioning/identity.py): not the host name."""

import socket

from fleet.provisioning.identity import mqtt_client_id
from fleet.registry.vault import Vault


def test_the_default_client_id_needs_the_secret_key_to_be_known():
    one, other = Vault(b"1" * 32), Vault(b"2" * 32)
    derived = mqtt_client_id(one, "")
    assert derived == mqtt_client_id(one, "")  # stable: the session survives restarts
    assert derived != mqtt_client_id(other, "")
    assert socket.gethostname().lower() not in derived
    assert derived.startswith("fleet-")
    assert len(derived) == len("fleet-") + 16
    assert mqtt_client_id(one, "fleet-site-1") == "fleet-site-1"
