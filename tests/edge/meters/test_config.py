"""Meter declarations: defaults from the protocol, and clear errors for what cannot work."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contract.meters import MeterConfig, SerialLine
from edge.settings import GatewaySettings
from silverguard.config import ConfigError, load_settings


def meter(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "m-0001-e",
        "flat": "f-0001",
        "port": "/dev/ttyUSB0",
        "protocol": "modbus",
        "address": 1,
        "profile": "sdm120",
    }
    values.update(overrides)
    return values


def test_line_settings_default_to_each_protocols_own():
    modbus = MeterConfig(**meter())
    dlt = MeterConfig(**meter(protocol="dlt645", address="123456789012", profile=None))
    assert modbus.line == SerialLine("/dev/ttyUSB0", 9600, "N")
    assert dlt.line == SerialLine("/dev/ttyUSB0", 2400, "E")
    assert dlt.fields == ("energy_kwh", "power_w", "voltage_v")
    assert MeterConfig(**meter(baud=19200, parity="E")).line.baud == 19200


def test_profiles_give_fields_and_the_utility():
    assert MeterConfig(**meter()).utility == "electricity"
    water = MeterConfig(**meter(profile="water"))
    assert water.fields == ("volume_m3", "flow_m3h")
    assert water.utility == "water"


def test_a_generic_register_map_declared_in_config():
    m = MeterConfig(
        **meter(
            profile=None,
            registers=[
                {
                    "field": "volume_m3",
                    "table": "holding",
                    "address": 6,
                    "type": "uint32",
                    "word_order": "little",
                    "scale": 0.01,
                },
            ],
        )
    )
    assert m.fields == ("volume_m3",)
    assert m.register_map[0].count == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"address": 0}, "a Modbus address is a number from 1 to 247"),
        ({"address": 248}, "a Modbus address is a number from 1 to 247"),
        ({"profile": "sdm630"}, "unknown profile 'sdm630'; use one of sdm120, water"),
        ({"protocol": "dlt645", "address": "1234", "profile": None}, "12-digit number printed"),
        ({"protocol": "dlt645", "address": "123456789012", "profile": "sdm120"}, "take no profile"),
        ({"flat": "Mrs Wang, 3-502"}, "opaque id, never a name"),
        ({"parity": "X"}, "Input should be 'N', 'E' or 'O'"),
        (
            {
                "profile": None,
                "registers": [
                    {"field": "volume_m3", "address": 0},
                    {"field": "power_w", "address": 2},
                ],
            },
            "electricity or water, not both",
        ),
    ],
)
def test_a_declaration_that_cannot_work_is_refused_with_the_reason(
    overrides: dict[str, Any], message: str
):
    with pytest.raises(ValidationError, match=message):
        MeterConfig(**meter(**overrides))


def settings_with(tmp_path: Path, *meters: dict[str, Any]) -> GatewaySettings:
    return GatewaySettings(gateway_id="gw-01", data_dir=tmp_path, meters=list(meters))  # type: ignore[arg-type]


def test_meters_on_one_port_must_share_protocol_line_and_not_addresses(tmp_path: Path):
    a = meter(id="a", address=1)
    settings_with(tmp_path, a, meter(id="b", address=2, profile="water"))  # fine
    with pytest.raises(ValidationError, match="address 1 is already used on /dev/ttyUSB0"):
        settings_with(tmp_path, a, meter(id="b", address=1))
    with pytest.raises(ValidationError, match="differ in baud or parity"):
        settings_with(tmp_path, a, meter(id="b", address=2, baud=2400))
    with pytest.raises(ValidationError, match="put each protocol on its own port"):
        settings_with(
            tmp_path, a, meter(id="b", protocol="dlt645", address="123456789012", profile=None)
        )
    with pytest.raises(ValidationError, match="declared twice"):
        settings_with(tmp_path, a, meter(id="a", port="/dev/ttyUSB1"))


def test_meters_come_from_the_gateways_toml(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text(
        """
gateway_id = "gw-01"

[routine]
water_running_s = 5400

[[meters]]
id = "m-0001-e"
flat = "f-0001"
port = "/dev/ttyUSB0"
protocol = "dlt645"
address = "000012345678"

[[meters]]
id = "m-0001-w"
flat = "f-0001"
port = "/dev/ttyUSB1"
protocol = "modbus"
address = 7
profile = "water"
poll_interval_s = 30
"""
    )
    settings = load_settings(GatewaySettings, path)
    assert [m.id for m in settings.meters] == ["m-0001-e", "m-0001-w"]
    assert settings.meters[0].address == "000012345678"  # leading zeros kept
    assert settings.meters[1].device_id == 7
    assert settings.routine.water_running_s == 5400


def test_a_bad_meter_in_the_toml_stops_start_up_naming_it(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text(
        'gateway_id = "gw-01"\n[[meters]]\nid = "m1"\nflat = "f1"\nport = "/dev/ttyUSB0"\n'
        'protocol = "modbus"\naddress = 300\nprofile = "sdm120"\n'
    )
    with pytest.raises(ConfigError, match=r"setting 'meters.0': .*1 to 247"):
        load_settings(GatewaySettings, path)


def test_an_unknown_time_zone_is_refused(tmp_path: Path):
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        GatewaySettings(gateway_id="gw-01", routine={"timezone": "Mars/Olympus"})  # type: ignore[arg-type]
