"""Acknowledge links: signed, expiring, and anything else refused cleanly (pure)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.alerts.ack_link import LinkExpired, LinkInvalid, LinkSigner

NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
SIGNER = LinkSigner(b"k" * 32, timedelta(hours=24))


def test_a_link_names_its_alert_and_contact_until_it_expires():
    token = SIGNER.token(42, "c-00007", NOW)
    assert len(token) < 70  # fits an SMS with the rest of the message
    claim = SIGNER.check(token, NOW + timedelta(hours=23))
    assert (claim.alert_id, claim.contact_id) == (42, "c-00007")
    assert claim.expires_at == NOW + timedelta(hours=24)
    with pytest.raises(LinkExpired) as expired:
        SIGNER.check(token, NOW + timedelta(hours=24))
    assert expired.value.claim.contact_id == "c-00007"


def test_another_fleets_key_or_an_edited_link_is_refused():
    token = SIGNER.token(42, "c-00007", NOW)
    other = LinkSigner(b"x" * 32, timedelta(hours=24))
    with pytest.raises(LinkInvalid):
        other.check(token, NOW)
    for forged in (
        token.replace(".42.", ".43."),
        token.replace("c-00007", "c-00008"),
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token + "A",
    ):
        with pytest.raises(LinkInvalid):
            SIGNER.check(forged, NOW)


@given(st.text(max_size=300))
def test_any_text_is_refused_without_any_other_error(text):
    with pytest.raises((LinkInvalid, LinkExpired)):
        SIGNER.check(text, NOW)


@given(
    st.integers(0, 200),
    st.sampled_from("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_"),
)
def test_changing_any_one_character_breaks_the_signature(position, char):
    token = SIGNER.token(7, "c-1", NOW)
    i = position % len(token)
    if token[i] == char:
        return
    with pytest.raises(LinkInvalid):
        SIGNER.check(token[:i] + char + token[i + 1 :], NOW)
