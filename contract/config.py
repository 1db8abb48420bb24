"""The gateway's desired configuration, published retained by the fleet on
``sg/v1/gw/{id}/config`` and reported back on ``config/reported``.

Every section is typed here, once: bands, residents with their care plans
(contract/careplan.py), flat sensors, meters (contract/meters.py) and the gateway-wide
rule thresholds (contract/rules.py). The fleet builds a :class:`GatewayConfig` from its
registry; the gateway reads it with :func:`decode_config`, which validates **entry by
entry**: one resident's plan, one meter or one band the gateway cannot take is set
aside and named in the report (:class:`SetAside`), and everything else — above all the
other bands' keys — still applies. Only an envelope that is not a config at all
(wrong gateway, no version, not JSON) is refused whole.

Secrets (wristband bind keys, caregivers' phone numbers for offline SMS) are sealed
to the gateway's own Curve25519 public key (libsodium sealed box, base64), made at
enrollment; the private key never leaves the gateway, so neither the broker's
persisted store nor its operator can read them.
"""

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from contract.careplan import CarePlan
from contract.ids import OPAQUE_ID_PATTERN, normalise_mac
from contract.messages import SCHEMA_VERSION, GatewayId, WireError
from contract.meters import MeterConfig, split_meter_list
from contract.rules import GatewayRules
from contract.topics import GATEWAY_ID_RE

# A config of 5,000 bands with sealed keys and plans is about 2 MB.
MAX_CONFIG_BYTES = 4 * 1024 * 1024

Mac = Annotated[str, AfterValidator(normalise_mac)]
OpaqueId = Annotated[str, StringConstraints(pattern=OPAQUE_ID_PATTERN)]
# A sealed box in base64: 48 bytes of overhead plus the secret; a contact list of a few
# numbers stays far below this.
Sealed = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BandConfig(_Model):
    mac: Mac
    sealed_key: Sealed = Field(description="sealed box of the 16-byte BTHome bind key")
    resident: OpaqueId | None = Field(None, description="whose care plan the rules apply")
    flat: OpaqueId | None = Field(None, description="links the band to the flat's meters")
    # The band model's accelerometer rate: cheap bands sample at 12.5-25 Hz to save
    # battery, and record impacts lower (contract/motion.py). None: 40 Hz or more.
    sample_rate_hz: float | None = Field(None, ge=12.5, le=200)


class SensorConfig(_Model):
    """Another BTHome device in a flat: door contact, motion or temperature sensor."""

    mac: Mac
    flat: OpaqueId | None = None
    sealed_key: Sealed | None = Field(None, description="None: it advertises in plaintext")


class ResidentConfig(_Model):
    resident: OpaqueId
    flat: OpaqueId | None = None
    plan: CarePlan = CarePlan()
    sealed_contacts: Sealed | None = Field(
        None, description="sealed JSON list of caregivers' phone numbers, for offline SMS"
    )
    sms_locale: Literal["zh-CN", "en"] = Field(
        "zh-CN", description="language of the gateway's own SMS to these caregivers"
    )


class GatewayConfig(_Model):
    v: int = SCHEMA_VERSION
    gateway: Annotated[str, StringConstraints(pattern=GATEWAY_ID_RE.pattern)]
    version: int = Field(ge=0, description="rises with every change; the gateway reports it")
    bands: list[BandConfig] = Field(default_factory=list, max_length=20_000)
    residents: list[ResidentConfig] = Field(default_factory=list, max_length=20_000)
    sensors: list[SensorConfig] = Field(default_factory=list, max_length=20_000)
    meters: list[MeterConfig] = Field(default_factory=list, max_length=20_000)
    rules: GatewayRules = GatewayRules()

    def encode(self) -> bytes:
        return self.model_dump_json().encode()


class ConfigSection(StrEnum):
    BANDS = "bands"
    RESIDENTS = "residents"
    SENSORS = "sensors"
    METERS = "meters"
    RULES = "rules"
    CONTACTS = "contacts"  # a resident's sealed phone numbers
    UNKNOWN = "unknown"  # a section this gateway's version does not know


class SetAside(msgspec.Struct, frozen=True, kw_only=True):
    """One part of a config the gateway did not apply, and why (no secret quoted)."""

    section: ConfigSection
    name: Annotated[str, Meta(max_length=80)]  # the band's MAC, resident id, meter id ...
    reason: Annotated[str, Meta(max_length=500)]


class ConfigReport(msgspec.Struct, frozen=True, kw_only=True):
    v: int = SCHEMA_VERSION
    gateway: GatewayId
    version: Annotated[int, Meta(ge=0)]  # the version now running
    ok: bool  # False: the desired version was refused whole
    error: Annotated[str, Meta(max_length=2000)] = ""  # why it was refused
    rejected_version: Annotated[int, Meta(ge=0)] | None = None
    # Applied, but without these parts (ok stays True).
    set_aside: Annotated[list[SetAside], Meta(max_length=1000)] = []


# -- reading a config entry by entry -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedConfig:
    """What a gateway can apply of a desired config, and what it had to set aside."""

    config: GatewayConfig  # only the entries that validated
    set_aside: list[SetAside] = field(default_factory=list)
    rules_valid: bool = True  # False: keep the rules already running


_SECTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "bands": (BandConfig, "mac"),
    "residents": (ResidentConfig, "resident"),
    "sensors": (SensorConfig, "mac"),
    "meters": (MeterConfig, "id"),
}
_ENVELOPE = {"v", "gateway", "version"}


def explain(exc: ValidationError) -> str:
    """A validation error in words, naming fields but never quoting their values."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "value"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)[:500]


def decode_config(payload: bytes, gateway_id: str) -> ReceivedConfig:
    """Read a desired config; raise WireError only when the envelope itself is unusable."""
    if len(payload) > MAX_CONFIG_BYTES:
        raise WireError(f"config of {len(payload)} bytes is over {MAX_CONFIG_BYTES} bytes")
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):
        raise WireError("config is not JSON") from None
    if not isinstance(raw, dict):
        raise WireError("config is not a JSON object")
    if raw.get("v", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise WireError(f"config schema version {raw.get('v')!r} is not supported (want 1)")
    if raw.get("gateway") != gateway_id:
        raise WireError(f"the config is for gateway {raw.get('gateway')!r}, not this one")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise WireError("config version must be a whole number, 0 or more")

    set_aside: list[SetAside] = []
    parts: dict[str, Any] = {}
    for section, (model, key) in _SECTIONS.items():
        parts[section] = _entries(raw.get(section, []), section, model, key, set_aside)
    meters, refused = split_meter_list(parts["meters"])
    parts["meters"] = meters
    set_aside += [SetAside(section=ConfigSection.METERS, name=m.id, reason=r) for m, r in refused]
    rules_valid = True
    try:
        parts["rules"] = GatewayRules.model_validate(raw.get("rules", {}))
    except ValidationError as exc:
        rules_valid = False
        set_aside.append(SetAside(section=ConfigSection.RULES, name="rules", reason=explain(exc)))
    for unknown in sorted(set(raw) - _ENVELOPE - set(_SECTIONS) - {"rules"}):
        set_aside.append(
            SetAside(
                section=ConfigSection.UNKNOWN,
                name=str(unknown)[:80],
                reason="this gateway's version does not know this section",
            )
        )
    config = GatewayConfig(gateway=gateway_id, version=version, **parts)
    return ReceivedConfig(config, set_aside, rules_valid)


def _entries(
    items: Any, section: str, model: type[BaseModel], key: str, set_aside: list[SetAside]
) -> list[Any]:
    if not isinstance(items, list):
        raise WireError(f"config section {section} must be a list")
    accepted: list[Any] = []
    names: set[str] = set()
    for i, item in enumerate(items):
        name = _name_of(item, key, i)
        try:
            entry = model.model_validate(item)
        except ValidationError as exc:
            set_aside.append(
                SetAside(section=ConfigSection(section), name=name, reason=explain(exc))
            )
            continue
        name = str(getattr(entry, key))
        if name in names:
            set_aside.append(
                SetAside(section=ConfigSection(section), name=name, reason="listed twice")
            )
            continue
        names.add(name)
        accepted.append(entry)
    return accepted


def _name_of(item: Any, key: str, index: int) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    # A bind key pasted into the MAC field must not travel back in the report.
    key_like = isinstance(value, str) and len(value.strip()) >= 32 and value.strip().isalnum()
    if isinstance(value, str) and len(value) <= 64 and value.isprintable() and not key_like:
        return value
    return f"#{index + 1}"
