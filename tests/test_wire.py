from pathlib import Path

import pytest

from contract import (
    Event,
    EventAck,
    TelemetryBatch,
    Topic,
    TopicKind,
    WireError,
    decode,
    encode,
    event_id,
)
from contract.sealing import SealError, generate_keypair, seal, unseal
from contract.topics import TopicError, parse_topic
from silverguard.asyncapi import render
from tests.factories import event


def test_event_round_trips():
    e = event()
    assert decode(encode(e), Event) == e


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        (b"not json", "invalid Event payload"),
        (b'{"v": 1}', "missing required field `id`"),
        (b'{"v": 2, "ids": []}', "version 2"),
    ],
)
def test_invalid_payloads_are_refused_with_a_reason(payload: bytes, complaint: str):
    schema = EventAck if b"ids" in payload else Event
    with pytest.raises(WireError, match=complaint):
        decode(payload, schema)


def test_unknown_event_kind_is_refused():
    bad = encode(event()).replace(b'"sos"', b'"party"')
    with pytest.raises(WireError, match="kind"):
        decode(bad, Event)


def test_event_ids_are_deterministic_and_distinct():
    assert event_id("c2:00:00:00:00:01", "sos", 5) == event_id("C2:00:00:00:00:01", "sos", 5)
    assert event_id("C2:00:00:00:00:01", "sos", 5) != event_id("C2:00:00:00:00:01", "sos", 6)
    assert event_id("C2:00:00:00:00:01", "sos", 5) != event_id("C2:00:00:00:00:01", "fall", 5)


def test_topics():
    assert str(Topic("gw-01", TopicKind.EVENT_ACK)) == "sg/v1/gw/gw-01/event/ack"
    assert parse_topic("sg/v1/gw/gw-01/event/ack") == Topic("gw-01", TopicKind.EVENT_ACK)
    for bad in (
        "sg/v1/gw/gw-01/nope",
        "other/gw-01/event",
        "sg/v1/gw/GW 1/event",
        "sg/v1/gw/+/event",
    ):
        with pytest.raises(TopicError):
            parse_topic(bad)


def test_telemetry_refuses_non_scalar_fields():
    payload = (
        b'{"v":1,"gateway":"gw-01","seq":1,"readings":[{"device":"x","ts":1.0,"fields":{"a":[1]}}]}'
    )
    with pytest.raises(WireError):
        decode(payload, TelemetryBatch)


def test_sealed_secrets_open_only_with_the_gateways_key():

    private, public = generate_keypair()
    other_private, _ = generate_keypair()
    sealed = seal(public, b"\x01" * 16)
    assert unseal(private, sealed) == b"\x01" * 16
    with pytest.raises(SealError):
        unseal(other_private, sealed)
    with pytest.raises(SealError):
        unseal(private, "not base64!")


def test_the_asyncapi_document_matches_the_code():

    committed = (Path(__file__).parent.parent / "docs" / "asyncapi.yaml").read_text()
    assert committed == render(), "regenerate: python -m silverguard.asyncapi > docs/asyncapi.yaml"
