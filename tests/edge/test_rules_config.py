"""Rules config: the fleet's dicts and the gateway's own file parse into one model."""

import datetime as dt
from pathlib import Path

import pytest

from contract.config import BandConfig, GatewayConfig, ResidentConfig
from edge.rules.config import ActiveHours, RulesConfig, RulesConfigError
from edge.settings import GatewaySettings
from silverguard.config import ConfigError, load_settings
from tests.factories import MAC


def pushed(rules: dict[str, object], settings: dict[str, object]) -> GatewayConfig:
    return GatewayConfig(
        gateway="gw-01",
        version=7,
        bands=[BandConfig(mac=MAC.lower(), sealed_key="x", resident="r-1", flat="f-9")],
        residents=[ResidentConfig(resident="r-1", flat="f-9", settings=settings)],
        rules=rules,
    )


def test_the_fleets_pushed_dicts_parse():
    config = RulesConfig.from_gateway_config(
        pushed(
            {
                "timezone": "Asia/Urumqi",
                "fall": {"confirm_window_s": 45},
                "device": {"battery_low_pct": 25},
            },
            {
                "active_hours": "08:30-21:00",
                "inactivity_span_s": 5400,
                "doses": [{"time": "20:00"}, {"time": "08:00", "grace_s": 900}],
            },
        )
    )
    assert config.rules.timezone == "Asia/Urumqi"
    assert config.rules.fall.confirm_window_s == 45
    assert config.rules.device.battery_low_pct == 25
    assert config.flat_of(MAC) == "f-9"
    assert config.active_hours(MAC) == ActiveHours(start=dt.time(8, 30), end=dt.time(21))
    assert config.inactivity_span_s(MAC) == 5400
    assert [(d.time, d.grace_s) for d in config.doses(MAC)] == [
        (dt.time(8), 900),
        (dt.time(20), None),
    ]


def test_a_band_without_a_resident_gets_the_gateway_defaults():
    config = RulesConfig.from_gateway_config(pushed({}, {}))
    other = "C2:00:00:00:00:99"
    assert config.doses(other) == []
    assert config.inactivity_span_s(other) == config.rules.inactivity.span_s
    assert str(config.active_hours(other)) == "07:00-22:00"


@pytest.mark.parametrize(
    ("rules", "settings", "named"),
    [
        ({"fall": {"confirm_window": 30}}, {}, "rules.fall.confirm_window"),
        ({"fall": {"confirm_window_s": -1}}, {}, "rules.fall.confirm_window_s"),
        ({"timezone": "Mars/Olympus"}, {}, "rules.timezone"),
        ({}, {"active_hours": "7-22"}, "residents[0].settings.active_hours"),
        ({}, {"active_hours": "07:00-07:00"}, "residents[0].settings.active_hours"),
        ({}, {"doses": [{"time": "25:00"}]}, "residents[0].settings.doses.0.time"),
        ({}, {"doses": [{"time": "08:00"}, {"time": "08:00"}]}, "residents[0].settings.doses"),
        ({}, {"inactivity_span_s": 60}, "residents[0].settings.inactivity_span_s"),
    ],
)
def test_a_bad_pushed_config_is_refused_naming_the_key(
    rules: dict[str, object], settings: dict[str, object], named: str
):
    with pytest.raises(RulesConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        RulesConfig.from_gateway_config(pushed(rules, settings))


def test_active_hours_across_midnight():
    night_shift = ActiveHours.parse("22:00-06:00")
    assert night_shift.contains(dt.time(23))
    assert night_shift.contains(dt.time(5, 59))
    assert not night_shift.contains(dt.time(12))


def test_the_gateways_own_file_carries_rules_and_residents(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text(
        f"""
gateway_id = "gw-01"
data_dir = "{tmp_path}"

[rules]
timezone = "Asia/Shanghai"
[rules.fall]
confirm_window_s = 20
[rules.inactivity]
active_hours = "06:30-21:30"

[[bands]]
mac = "{MAC}"
key = "{"00" * 16}"
resident = "r-1"
flat = "f-1"

[[residents]]
resident = "r-1"
settings = {{ doses = [{{ time = "08:00" }}], inactivity_span_s = 3600 }}
"""
    )
    settings = load_settings(GatewaySettings, path)
    config = settings.rules_config()
    assert config.rules.fall.confirm_window_s == 20
    assert str(config.active_hours(MAC)) == "06:30-21:30"
    assert config.inactivity_span_s(MAC) == 3600
    assert config.flat_of(MAC) == "f-1"
    assert [d.time for d in config.doses(MAC)] == [dt.time(8)]


def test_a_bad_rules_setting_stops_the_gateway_naming_it(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text('gateway_id = "gw-01"\n[rules.medication]\ngrace_s = 5\n')
    with pytest.raises(ConfigError, match=r"rules\.medication\.grace_s"):
        load_settings(GatewaySettings, path)
