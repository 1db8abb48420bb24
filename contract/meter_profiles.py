"""Register maps ("profiles") for Modbus meters, and what each field means.

A profile lists which register holds which value. Built in:

* ``sdm120`` — Eastron SDM120-Modbus single-phase DIN-rail energy meter. Input
  registers (function 04), each value an IEEE-754 float32 in two registers, high word
  first: voltage 0x0000 (V), active power 0x000C (W), total active energy 0x0156 (kWh)
  (Eastron "SDM120 Modbus protocol" register table).
* ``water`` — a Modbus water meter laid out the way many RS-485 pulse/ultrasonic
  meters are: holding registers (function 03), cumulative volume as a 32-bit count of
  litres at 0x0000 and flow as a 32-bit count of litres per hour at 0x0002, high
  word first. Water meters differ more than energy meters do: check the meter's manual
  and declare a ``registers`` map in the config when it does not match.

A generic map is declared in config as a list of :class:`RegisterField`.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The fields a meter may report, with their units in the name. The routine rules know
# these names; telemetry carries them to InfluxDB unchanged.
MeterField = Literal["energy_kwh", "power_w", "voltage_v", "current_a", "volume_m3", "flow_m3h"]
ELECTRICITY_FIELDS = frozenset({"energy_kwh", "power_w", "voltage_v", "current_a"})
WATER_FIELDS = frozenset({"volume_m3", "flow_m3h"})

RegisterType = Literal["float32", "uint16", "int16", "uint32", "int32"]

# Registers (16-bit words) each type occupies.
REGISTER_COUNT: dict[str, int] = {
    "float32": 2,
    "uint16": 1,
    "int16": 1,
    "uint32": 2,
    "int32": 2,
}


class RegisterField(BaseModel):
    """One value in a Modbus register map: where it is and how to turn it into units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: MeterField
    table: Literal["input", "holding"] = "input"  # function 04 or 03
    address: int = Field(ge=0, le=0xFFFF)  # the register number on the wire (0-based)
    type: RegisterType = "float32"
    # "big": the high word comes first (Eastron, most meters); "little": low word first.
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0  # value in the field's unit = raw * scale (e.g. litres -> m3: 0.001)

    @property
    def count(self) -> int:
        return REGISTER_COUNT[self.type]


def _fields(*specs: RegisterField) -> tuple[RegisterField, ...]:
    return specs


PROFILES: dict[str, tuple[RegisterField, ...]] = {
    "sdm120": _fields(
        RegisterField(field="voltage_v", table="input", address=0x0000),
        RegisterField(field="power_w", table="input", address=0x000C),
        RegisterField(field="energy_kwh", table="input", address=0x0156),
    ),
    "water": _fields(
        RegisterField(
            field="volume_m3", table="holding", address=0x0000, type="uint32", scale=0.001
        ),
        RegisterField(
            field="flow_m3h", table="holding", address=0x0002, type="uint32", scale=0.001
        ),
    ),
}

# DL/T 645 meters are all read the same way (see edge.meters.dlt645.READINGS).
DLT645_PROFILE = "dlt645"
DLT645_FIELDS: tuple[MeterField, ...] = ("energy_kwh", "power_w", "voltage_v")
