"""Config push on the gateway: read entry by entry, open sealed secrets, apply, persist,
report — and set aside, by name, only the parts it cannot take."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.careplan import CarePlan
from contract.config import (
    BandConfig,
    ConfigSection,
    GatewayConfig,
    ResidentConfig,
    SetAside,
)
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


def raw(cfg: GatewayConfig) -> bytes:
    return cfg.encode()


def with_entry(cfg: GatewayConfig, section: str, entry: object) -> bytes:
    """The config's JSON with one more (possibly invalid) entry in a section, as a
    fleet of another version might send it."""
    data = json.loads(cfg.encode())
    data[section].append(entry)
    return json.dumps(data).encode()


OTHER_MAC = "C2:00:00:00:00:02"


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
    report = a.receive(raw(config(1)))
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
    a.receive(raw(config(1)))
    report = a.receive(raw(config(1)))
    assert report is not None
    assert report.ok
    assert len(bands.applied) == 1


def test_a_cleared_retained_config_leaves_the_running_one(tmp_path: Path):
    a, _bands = applier(tmp_path)
    a.receive(raw(config(1)))
    assert a.receive(b"") is None
    assert a.version == 1


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (raw(config(2, gateway="gw-99")), "not this one"),
        (b'{"gateway": "gw-01", "bands": []}', "version"),
        (b'{"gateway": "gw-01", "version": 2, "bands": {}}', "must be a list"),
        (raw(config(0)), "older than the running version 1"),
    ],
)
def test_a_config_that_is_not_one_is_refused_whole_and_the_previous_keeps_running(
    tmp_path: Path, bad: bytes, reason: str
):
    a, bands = applier(tmp_path)
    a.receive(raw(config(1)))
    report = a.receive(bad)
    assert report is not None
    assert not report.ok
    assert reason in report.error
    assert report.version == 1  # still running
    assert len(bands.applied) == 1
    assert a.version == 1
    assert a.report() == report  # re-published after a reconnect, until a good one comes


@pytest.mark.parametrize(
    ("section", "entry", "name", "reason"),
    [
        ("bands", {"mac": "nope", "sealed_key": "x"}, "nope", "mac"),
        (
            "bands",
            {"mac": OTHER_MAC, "sealed_key": seal(generate_keypair()[1], KEY)},
            OTHER_MAC,
            "does not open with this gateway's key",
        ),
        ("bands", {"mac": OTHER_MAC, "sealed_key": seal(PUBLIC, b"short")}, OTHER_MAC, "16 bytes"),
        ("bands", {"mac": MAC, "sealed_key": seal(PUBLIC, KEY)}, MAC, "listed twice"),
        (
            "residents",
            {"resident": "r-2", "plan": {"inactivity_minutes": 120}},
            "r-2",
            "plan.inactivity_minutes: Extra inputs are not permitted",
        ),
        (
            "residents",
            {"resident": "r-2", "plan": {"medication": [{"id": "am", "time": "25:00"}]}},
            "r-2",
            "plan.medication.0.time",
        ),
        (
            "residents",
            {
                "resident": "r-2",
                "sealed_contacts": seal(PUBLIC, json.dumps(["call me"]).encode()),
            },
            "r-2",
            "contact 1 is not a phone number",
        ),
        ("meters", {"id": "m-1", "flat": "f-1", "port": "/dev/x", "protocol": "mbus"}, "m-1", ""),
        ("sensors", {"mac": "zz"}, "zz", "mac"),
        # A key pasted where the MAC goes is never echoed back.
        ("sensors", {"mac": "00112233445566778899aabbccddeeff"}, "#1", "mac"),
    ],
)
def test_a_bad_entry_is_set_aside_by_name_and_everything_else_applies(
    tmp_path: Path, section: str, entry: dict[str, object], name: str, reason: str
):
    a, bands = applier(tmp_path)
    a.receive(raw(config(1)))
    report = a.receive(with_entry(config(2), section, entry))
    assert report is not None
    assert report.ok
    assert report.version == a.version == 2
    (part,) = report.set_aside
    assert part.section == section or (part.section is ConfigSection.CONTACTS)
    assert part.name == name
    assert reason in part.reason
    # Above all: the good band's key still reached the decoder.
    assert bands.applied[-1].band_keys == {MAC: KEY}
    assert a.report() == report  # republished after a reconnect with its set-aside parts


def test_rules_that_do_not_validate_are_set_aside_and_the_running_ones_stay(tmp_path: Path):
    a, bands = applier(tmp_path)
    data = json.loads(raw(config(1)))
    data["rules"] = {"fall": {"confirm_window_s": -3}}
    report = a.receive(json.dumps(data).encode())
    assert report is not None
    assert report.ok
    (part,) = report.set_aside
    assert part.section is ConfigSection.RULES
    assert "fall.confirm_window_s" in part.reason
    assert not bands.applied[-1].rules_valid
    assert bands.applied[-1].band_keys == {MAC: KEY}


def test_a_resident_with_a_care_plan_arrives_typed(tmp_path: Path):
    a, bands = applier(tmp_path)
    plan = CarePlan.model_validate(
        {
            "active_hours": "06:30-21:00",
            "inactivity_s": 5400,
            "medication": [{"id": "am", "time": "08:00"}],
        }
    )
    a.receive(raw(config(1, residents=[ResidentConfig(resident="r-1", plan=plan)])))
    (resident,) = bands.applied[-1].config.residents
    assert resident.plan == plan
    assert resident.plan.inactivity_s == 5400


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
    report = a.receive(raw(bad))
    assert report is not None
    (part,) = report.set_aside
    assert part.section is ConfigSection.CONTACTS
    assert "138" not in part.reason


def test_a_section_can_refuse_a_config_it_cannot_run(tmp_path: Path):
    a, bands = applier(tmp_path)

    def check(desired: DesiredConfig) -> None:
        if len(desired.config.bands) > 1:
            raise ValueError("this gateway takes one band")

    a.register("radio", lambda desired: None, check)
    assert a.receive(raw(config(1)))
    two = config(
        2, bands=[*config(1).bands, BandConfig(mac=OTHER_MAC, sealed_key=seal(PUBLIC, KEY))]
    )
    report = a.receive(raw(two))
    assert report is not None
    assert not report.ok
    assert report.error == "radio: this gateway takes one band"
    assert report.rejected_version == 2
    assert [d.version for d in bands.applied] == [1]


def test_a_section_names_what_it_could_not_take(tmp_path: Path):
    a, _ = applier(tmp_path)
    a.register(
        "meters",
        lambda desired: [SetAside(section=ConfigSection.METERS, name="m-9", reason="no port")],
    )
    report = a.receive(raw(config(1)))
    assert report is not None
    assert report.ok
    assert [(p.name, p.reason) for p in report.set_aside] == [("m-9", "no port")]


def test_a_section_that_fails_to_apply_is_rolled_back(tmp_path: Path):
    a, bands = applier(tmp_path)
    a.receive(raw(config(1)))

    def explode(desired: DesiredConfig) -> None:
        if desired.version == 2:
            raise RuntimeError("boom")

    a.register("meters", explode)
    report = a.receive(raw(config(2)))
    assert report is not None
    assert not report.ok
    assert "boom" in report.error
    assert [d.version for d in bands.applied] == [1, 2, 1]  # applied, tried, put back
    assert a.version == 1


def test_a_restart_runs_the_last_good_config_without_a_broker(tmp_path: Path):
    a, _ = applier(tmp_path)
    a.receive(raw(config(3)))
    a.receive(raw(config(4, gateway="gw-99")))  # refused: not persisted
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


def test_without_a_private_key_sealed_secrets_are_set_aside(tmp_path: Path):
    a, bands = applier(tmp_path, private="")
    report = a.receive(raw(config(1)))
    assert report is not None
    assert report.ok
    assert {p.section for p in report.set_aside} == {ConfigSection.BANDS, ConfigSection.CONTACTS}
    assert all("no private key" in p.reason for p in report.set_aside)
    assert bands.applied[-1].band_keys == {}


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
    a.receive(raw(config(1)))
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
