"""Config push on the gateway: validate, open sealed secrets, apply, persist, report."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import encode
from contract.config import BandConfig, GatewayConfig, ResidentConfig
from contract.sealing import generate_keypair, seal
from edge.config_push import ConfigApplier, ConfigRejected, DesiredConfig

PRIVATE, PUBLIC = generate_keypair()
MAC = "C2:00:00:00:00:01"
KEY = bytes(range(16))


def config(version: int, **overrides: object) -> GatewayConfig:
    values: dict[str, object] = {
        "gateway": "gw-01",
        "version": version,
        "bands": [BandConfig(mac=MAC, sealed_key=seal(PUBLIC, KEY), resident="r-1")],
        "residents": [
            ResidentConfig(
                resident="r-1",
                sealed_contacts=seal(PUBLIC, json.dumps(["+8613800138000"]).encode()),
            )
        ],
    }
    values.update(overrides)
    return GatewayConfig(**values)  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.applied: list[DesiredConfig] = []

    def __call__(self, desired: DesiredConfig) -> None:
        self.applied.append(desired)


def applier(tmp_path: Path, private: str = PRIVATE) -> tuple[ConfigApplier, Recorder]:
    a = ConfigApplier("gw-01", private, tmp_path)
    recorder = Recorder()
    a.register("bands", recorder)
    return a, recorder


def test_a_new_version_is_opened_applied_persisted_and_reported(tmp_path: Path):
    a, bands = applier(tmp_path)
    report = a.receive(encode(config(1)))
    assert report is not None
    assert report.ok
    assert report.version == 1
    (desired,) = bands.applied
    assert desired.band_keys == {MAC: KEY}
    assert desired.contacts == {"r-1": ["+8613800138000"]}
    # What is on disk is still sealed: no key or number in clear.
    on_disk = (tmp_path / "config.json").read_text()
    assert KEY.hex() not in on_disk
    assert "13800138000" not in on_disk


def test_the_retained_copy_delivered_again_changes_nothing(tmp_path: Path):
    a, bands = applier(tmp_path)
    a.receive(encode(config(1)))
    report = a.receive(encode(config(1)))
    assert report is not None
    assert report.ok
    assert len(bands.applied) == 1


def test_a_cleared_retained_config_leaves_the_running_one(tmp_path: Path):
    a, _bands = applier(tmp_path)
    a.receive(encode(config(1)))
    assert a.receive(b"") is None
    assert a.version == 1


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"not json", "invalid GatewayConfig"),
        (encode(config(2, gateway="gw-99")), "not this one"),
        (encode(config(2, bands=[BandConfig(mac="nope", sealed_key="x")])), "bands[0].mac"),
        (
            encode(
                config(2, bands=[BandConfig(mac=MAC, sealed_key=seal(generate_keypair()[1], KEY))])
            ),
            "does not open with this gateway's key",
        ),
        (
            encode(config(2, bands=[BandConfig(mac=MAC, sealed_key=seal(PUBLIC, b"short"))])),
            "16 bytes",
        ),
        (
            encode(
                config(
                    2,
                    residents=[
                        ResidentConfig(
                            resident="r-1",
                            sealed_contacts=seal(PUBLIC, json.dumps(["call me"]).encode()),
                        )
                    ],
                )
            ),
            "contact 1 is not a phone number",
        ),
        (encode(config(0)), "older than the running version 1"),
    ],
)
def test_a_bad_config_is_refused_with_its_reason_and_the_previous_keeps_running(
    tmp_path: Path, bad: bytes, reason: str
):
    a, bands = applier(tmp_path)
    a.receive(encode(config(1)))
    report = a.receive(bad)
    assert report is not None
    assert not report.ok
    assert reason in report.error
    assert report.version == 1  # still running
    assert len(bands.applied) == 1
    assert a.version == 1
    assert a.report() == report  # re-published after a reconnect, until a good one comes


def test_a_refusal_never_quotes_a_number(tmp_path: Path):
    a, _ = applier(tmp_path)
    bad = config(
        1,
        residents=[
            ResidentConfig(
                resident="r-1", sealed_contacts=seal(PUBLIC, json.dumps(["+86 138 x"]).encode())
            )
        ],
    )
    report = a.receive(encode(bad))
    assert report is not None
    assert not report.ok
    assert "138" not in report.error


def test_a_section_can_refuse_a_value_it_owns(tmp_path: Path):
    a, bands = applier(tmp_path)

    def check_rules(desired: DesiredConfig) -> None:
        if desired.config.rules.get("inactivity_h", 1) <= 0:
            raise ValueError("inactivity_h must be positive")

    a.register("rules", lambda desired: None, check_rules)
    assert a.receive(encode(config(1, rules={"inactivity_h": 6})))
    report = a.receive(encode(config(2, rules={"inactivity_h": -1})))
    assert report is not None
    assert not report.ok
    assert report.error == "rules: inactivity_h must be positive"
    assert report.rejected_version == 2
    assert [d.version for d in bands.applied] == [1]


def test_a_section_that_fails_to_apply_is_rolled_back(tmp_path: Path):
    a, bands = applier(tmp_path)
    a.receive(encode(config(1)))

    def explode(desired: DesiredConfig) -> None:
        if desired.version == 2:
            raise RuntimeError("boom")

    a.register("meters", explode)
    report = a.receive(encode(config(2)))
    assert report is not None
    assert not report.ok
    assert "boom" in report.error
    assert [d.version for d in bands.applied] == [1, 2, 1]  # applied, tried, put back
    assert a.version == 1


def test_a_restart_runs_the_last_good_config_without_a_broker(tmp_path: Path):
    a, _ = applier(tmp_path)
    a.receive(encode(config(3)))
    a.receive(encode(config(4, gateway="gw-99")))  # refused: not persisted
    again, bands = applier(tmp_path)
    again.load_persisted()
    assert again.version == 3
    assert bands.applied[0].band_keys == {MAC: KEY}


def test_a_corrupt_saved_config_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    (tmp_path / "config.json").write_text("{half")
    a, bands = applier(tmp_path)
    a.load_persisted()
    assert a.version is None
    assert bands.applied == []
    assert "not usable" in caplog.text


def test_without_a_private_key_sealed_keys_are_refused(tmp_path: Path):
    a, _ = applier(tmp_path, private="")
    report = a.receive(encode(config(1)))
    assert report is not None
    assert not report.ok
    assert "no private key" in report.error


def test_config_rejected_is_a_value_error():
    assert issubclass(ConfigRejected, ValueError)


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    payload=st.one_of(
        st.binary(max_size=200),
        _JSONISH.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries(
            {"gateway": st.just("gw-01"), "version": st.integers(-5, 5)},
            optional={"bands": _JSONISH, "residents": _JSONISH, "rules": _JSONISH},
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_any_payload_gets_a_report_never_an_exception(tmp_path_factory, payload: bytes):
    a, _ = applier(tmp_path_factory.mktemp("cfg"))
    a.receive(encode(config(1)))
    report = a.receive(payload)
    if not payload:
        assert report is None
        return
    assert report is not None
    if report.ok:
        assert a.version == report.version
    else:
        assert report.error
        assert report.version == a.version == 1  # the previous config still runs
