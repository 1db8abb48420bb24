"""Provisioning: gateways' MQTT identities (Mosquitto dynamic security), enrollment,
and publishing each gateway's desired config."""
