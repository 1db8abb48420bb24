"""Meter declarations: ``GatewayConfig.meters`` from the fleet (meters are registered
there per flat, with the gateway and port they are wired to), or ``[[meters]]`` tables
in a gateway's own settings.

Each meter names its port, protocol, bus address, register map and the flat it belongs
to (an opaque id, never a name). Meters that share a port share one RS-485 bus, so
they must agree on the line settings; the list is checked as a whole at start-up.

Line defaults follow the protocols: Modbus RTU meters ship at 9600 8N1 (Eastron
SDM120's factory setting is 2400 8N1 on older firmware, 9600 on newer — set ``baud``);
DL/T 645-2007 specifies 2400 baud, 8 data bits, even parity, 1 stop bit. Parity stays
a setting because Linux pseudo-terminals refuse even parity, so tests run 8N1.
"""

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from contract.meter_profiles import (
    DLT645_FIELDS,
    DLT645_PROFILE,
    ELECTRICITY_FIELDS,
    PROFILES,
    WATER_FIELDS,
    MeterField,
    RegisterField,
)

OPAQUE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
DLT645_ADDRESS_RE = re.compile(r"^[0-9]{12}$")

Protocol = Literal["modbus", "dlt645"]
Parity = Literal["N", "E", "O"]

_DEFAULT_LINE: dict[str, tuple[int, str]] = {"modbus": (9600, "N"), "dlt645": (2400, "E")}


@dataclass(frozen=True, slots=True)
class SerialLine:
    """Everything needed to open one RS-485 bus (8 data bits, 1 stop bit)."""

    port: str
    baud: int
    parity: str

    @property
    def char_time_s(self) -> float:
        # start bit + 8 data bits + parity (if any) + 1 stop bit
        bits = 10 if self.parity == "N" else 11
        return bits / self.baud


class MeterConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="opaque meter id, e.g. m-0001-e")
    flat: str = Field(description="opaque id of the flat the meter serves")
    port: str = Field(description="serial device, e.g. /dev/ttyUSB0")
    protocol: Protocol
    # Modbus: the device id 1-247. DL/T 645: the 12-digit number printed on the meter.
    address: str
    profile: str | None = None  # modbus: sdm120 | water; dlt645: dlt645 (the default)
    registers: tuple[RegisterField, ...] = ()  # a generic Modbus map instead of a profile
    poll_interval_s: float = Field(60.0, ge=0.1, le=86400)
    baud: int | None = Field(None, ge=300, le=921600)
    parity: Parity | None = None
    # DL/T 645-2007 lets a meter take up to 500 ms before answering; Modbus meters
    # answer in tens of milliseconds. One second covers both with a margin.
    timeout_s: float = Field(1.0, gt=0, le=30)
    retries: int = Field(2, ge=0, le=10)  # extra attempts per value before a poll fails
    offline_after_s: float = Field(300.0, gt=0)  # silent this long -> meter_offline event

    @model_validator(mode="before")
    @classmethod
    def _address_as_text(cls, data: Any) -> Any:
        # TOML gives a Modbus address as an integer; keep one type internally.
        if isinstance(data, dict) and isinstance(data.get("address"), int):
            data = {**data, "address": str(data["address"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> "MeterConfig":
        for name in ("id", "flat"):
            if not OPAQUE_ID_RE.match(getattr(self, name)):
                raise ValueError(
                    f"{name} {getattr(self, name)!r}: use 1-63 characters of letters, digits, "
                    "'.', '_' and '-' (an opaque id, never a name)"
                )
        if self.protocol == "modbus":
            if not self.address.isdigit() or not 1 <= int(self.address) <= 247:
                raise ValueError(f"meter {self.id}: a Modbus address is a number from 1 to 247")
            if self.registers and self.profile not in (None, "custom"):
                raise ValueError(
                    f"meter {self.id}: give either a profile or a registers map, not both"
                )
            if not self.registers and self.profile not in PROFILES:
                known = ", ".join(sorted(PROFILES))
                raise ValueError(
                    f"meter {self.id}: unknown profile {self.profile!r}; use one of {known} "
                    "or declare a registers map"
                )
        else:
            if not DLT645_ADDRESS_RE.match(self.address):
                raise ValueError(
                    f"meter {self.id}: a DL/T 645 address is the 12-digit number printed on "
                    f"the meter, got {self.address!r}"
                )
            if self.registers or self.profile not in (None, DLT645_PROFILE):
                raise ValueError(f"meter {self.id}: DL/T 645 meters take no profile or registers")
        fields = set(self.fields)
        if len(fields) != len(self.fields):
            raise ValueError(f"meter {self.id}: a field appears twice in the registers map")
        if fields & ELECTRICITY_FIELDS and fields & WATER_FIELDS:
            raise ValueError(f"meter {self.id}: one meter measures electricity or water, not both")
        return self

    @property
    def register_map(self) -> tuple[RegisterField, ...]:
        return self.registers or PROFILES.get(self.profile or "", ())

    @property
    def fields(self) -> tuple[MeterField, ...]:
        if self.protocol == "dlt645":
            return DLT645_FIELDS
        return tuple(spec.field for spec in self.register_map)

    @property
    def utility(self) -> Literal["electricity", "water"]:
        return "water" if set(self.fields) & WATER_FIELDS else "electricity"

    @property
    def device_id(self) -> int:
        """The Modbus device id (Modbus meters only)."""
        return int(self.address)

    @property
    def line(self) -> SerialLine:
        baud, parity = _DEFAULT_LINE[self.protocol]
        return SerialLine(self.port, self.baud or baud, self.parity or parity)


def split_meter_list(
    meters: list[MeterConfig],
) -> tuple[list[MeterConfig], list[tuple[MeterConfig, str]]]:
    """Meters on one port share a bus: one protocol, one line setting, distinct addresses.

    Returns the meters that can run together, and each one that cannot with the reason
    (the first declared on a bus sets its protocol and line; later ones must agree).
    """
    seen_ids: set[str] = set()
    buses: dict[str, MeterConfig] = {}
    addresses: set[tuple[str, str]] = set()
    kept: list[MeterConfig] = []
    refused: list[tuple[MeterConfig, str]] = []
    for meter in meters:
        problem = _conflict(meter, seen_ids, buses.get(meter.port), addresses)
        if problem:
            refused.append((meter, problem))
            continue
        seen_ids.add(meter.id)
        buses.setdefault(meter.port, meter)
        addresses.add((meter.port, meter.address))
        kept.append(meter)
    return kept, refused


def _conflict(
    meter: MeterConfig,
    seen_ids: set[str],
    first: MeterConfig | None,
    addresses: set[tuple[str, str]],
) -> str:
    if meter.id in seen_ids:
        return f"meter id {meter.id!r} is declared twice"
    if first is not None and first.protocol != meter.protocol:
        # Modbus and DL/T 645 meters differ in line settings in practice, and the
        # Modbus library opens its port exclusively: give each protocol its own bus.
        return (
            f"meters {first.id} and {meter.id} share {meter.port} but speak "
            f"{first.protocol} and {meter.protocol}; put each protocol on its own port"
        )
    if first is not None and first.line != meter.line:
        return (
            f"meters {first.id} and {meter.id} share {meter.port} but differ in baud or "
            "parity; every meter on one RS-485 bus must use the same line settings"
        )
    if (meter.port, meter.address) in addresses:
        return f"meter {meter.id}: address {meter.address} is already used on {meter.port}"
    return ""


def check_meter_list(meters: list[MeterConfig]) -> list[MeterConfig]:
    """The whole list or a ValueError naming the first conflict (a gateway's own file)."""
    _, refused = split_meter_list(meters)
    if refused:
        raise ValueError(refused[0][1])
    return meters


MeterList = Annotated[list[MeterConfig], AfterValidator(check_meter_list)]
