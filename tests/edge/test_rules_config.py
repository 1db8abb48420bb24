"""Rules config: the contract's types (the fleet's pushed config or the gateway's own
file) assembled per band for the rule engine."""

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from contract.careplan import ActiveHours, CarePlan
from contract.config import BandConfig, GatewayConfig, ResidentConfig
from contract.rules import GatewayRules
from edge.rules.config import RulesConfig
from edge.settings import GatewaySettings
from silverguard.config import ConfigError, load_settings
from tests.factories import MAC


def pushed(rules: dict[str, object], plan: dict[str, object]) -> GatewayConfig:
    return GatewayConfig(
        gateway="gw-01",
        version=7,
        bands=[BandConfig(mac=MAC.lower(), sealed_key="x", resident="r-1", flat="f-9")],
        residents=[ResidentConfig(resident="r-1", flat="f-9", plan=CarePlan.model_validate(plan))],
        rules=GatewayRules.model_validate(rules),
    )


def test_the_fleets_pushed_config_answers_per_band():
    config = RulesConfig.from_gateway_config(
        pushed(
            {
                "timezone": "Asia/Urumqi",
                "fall": {"confirm_window_s": 45},
                "device": {"battery_low_pct": 25},
            },
            {
                "active_hours": "08:30-21:00",
                "inactivity_s": 5400,
                "medication": [{"id": "pm", "time": "20:00"}, {"id": "am", "time": "08:00"}],
            },
        )
    )
    assert config.rules.timezone == "Asia/Urumqi"
    assert config.rules.fall.confirm_window_s == 45
    assert config.rules.device.battery_low_pct == 25
    assert config.flat_of(MAC) == "f-9"
    assert config.active_hours(MAC) == ActiveHours(start=dt.time(8, 30), end=dt.time(21))
    assert config.inactivity_span_s(MAC) == 5400
    assert [(d.id, d.time) for d in config.doses(MAC)] == [
        ("am", dt.time(8)),
        ("pm", dt.time(20)),
    ]


def test_a_band_without_a_resident_gets_the_gateway_defaults():
    config = RulesConfig.from_gateway_config(pushed({}, {}))
    other = "C2:00:00:00:00:99"
    assert config.doses(other) == []
    assert config.inactivity_span_s(other) == config.rules.inactivity.span_s
    assert str(config.active_hours(other)) == "07:00-22:00"


@pytest.mark.parametrize(
    ("rules", "named"),
    [
        ({"fall": {"confirm_window": 30}}, "fall.confirm_window"),
        ({"fall": {"confirm_window_s": -1}}, "fall.confirm_window_s"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_bad_rules_are_refused_naming_the_key(rules: dict[str, object], named: str):
    with pytest.raises(ValidationError, match=named):
        GatewayRules.model_validate(rules)


@pytest.mark.parametrize(
    ("plan", "named"),
    [
        ({"active_hours": "7-22"}, "active_hours"),
        ({"active_hours": "07:00-07:00"}, "active_hours"),
        ({"medication": [{"id": "am", "time": "25:00"}]}, "medication.0.time"),
        (
            {"medication": [{"id": "am", "time": "08:00"}, {"id": "b", "time": "08:00"}]},
            "medication",
        ),
        ({"medication": [{"id": "am", "time": "08:00"}, {"id": "am", "time": "09:00"}]}, "own id"),
        ({"inactivity_s": 60}, "inactivity_s"),
        ({"inactivity_minutes": 120}, "inactivity_minutes"),  # one unit: seconds
        ({"fall_sensitivity": "extreme"}, "fall_sensitivity"),
    ],
)
def test_a_bad_care_plan_is_refused_naming_the_field(plan: dict[str, object], named: str):
    with pytest.raises(ValidationError, match=named):
        CarePlan.model_validate(plan)


def test_a_care_plan_survives_the_wire_unchanged():
    plan = CarePlan.model_validate(
        {
            "active_hours": {"start": "22:00", "end": "06:00"},
            "inactivity_s": 3600,
            "medication": [{"id": "am", "time": "08:05"}],
            "fall_sensitivity": "high",
        }
    )
    again = CarePlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert plan.model_dump(mode="json")["active_hours"] == {"start": "22:00", "end": "06:00"}


def test_active_hours_across_midnight():
    night_shift = ActiveHours.model_validate("22:00-06:00")
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
key = "{bytes(range(16)).hex()}"
resident = "r-1"
flat = "f-1"

[[residents]]
resident = "r-1"
plan = {{ medication = [{{ id = "am", time = "08:00" }}], inactivity_s = 3600 }}
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
