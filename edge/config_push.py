"""The fleet's desired config, taken in without a restart: read, open, apply, persist.

The fleet publishes a ``GatewayConfig`` retained on ``sg/v1/gw/{id}/config``. A new
version goes through three steps:

1. **Read and open** (:func:`contract.config.decode_config`, :func:`open_config`):
   the envelope (this gateway, a version that does not go backwards), then every
   entry on its own — a band, a resident's care plan, a meter, a sensor — and every
   sealed bind key and contact list opened with this gateway's private key. An entry
   that fails is **set aside** with its reason; the rest goes on. A bad part never
   cuts the gateway off from the rest: above all, the other bands' keys still apply.
2. **Check**: every registered section may still refuse the config as a whole (a bug
   guard; nothing the fleet builds should reach it).
3. **Apply**: every section takes the new config and names anything more it had to
   set aside (a meter whose port is missing, say); then the payload is written to
   ``data_dir/config.json`` (still sealed) so a restart without the broker runs it.

The outcome is a ``ConfigReport`` for ``config/reported``: the version running, the
parts set aside (section, name, reason), and for a refused one its version and the
reason. Reasons never quote a secret.

Sections register with ``register(name, apply, check)``; the rules and meters hook in
the same way without this module knowing their schemas.
"""

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contract import WireError
from contract.config import (
    BandConfig,
    ConfigReport,
    ConfigSection,
    GatewayConfig,
    ReceivedConfig,
    ResidentConfig,
    SensorConfig,
    SetAside,
    decode_config,
)
from contract.files import write_atomically
from contract.sealing import SealError, unseal

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"

# A phone number as the modem dials it: optional +, then 5-20 digits (E.164 is at most
# 15; national formats with a trunk prefix and short service numbers fit too).
_PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")


class ConfigRejected(ValueError):
    """A desired config that cannot run; the message says why (and names no secret)."""


@dataclass(frozen=True, slots=True)
class DesiredConfig:
    """A config with its secrets opened — what the sections get.

    ``config`` holds only the entries that can run; ``set_aside`` names the others.
    """

    config: GatewayConfig
    band_keys: dict[str, bytes] = field(default_factory=dict)  # MAC -> bind key
    sensor_keys: dict[str, bytes | None] = field(default_factory=dict)  # None: plaintext
    contacts: dict[str, list[str]] = field(default_factory=dict)  # resident -> numbers
    set_aside: list[SetAside] = field(default_factory=list)
    rules_valid: bool = True  # False: the rules section was set aside; keep the running

    @property
    def version(self) -> int:
        return self.config.version


# A section's apply names the parts it could not take (empty: took everything).
Check = Callable[[DesiredConfig], None]
Apply = Callable[[DesiredConfig], "list[SetAside] | None"]


@dataclass(frozen=True, slots=True)
class _Section:
    name: str
    apply: Apply
    check: Check | None


def _unseal_key(private_key: str, sealed: str) -> bytes:
    """Open a sealed bind key; ValueError says why without quoting anything secret."""
    if not private_key:
        raise ValueError("this gateway has no private key to open sealed keys with")
    try:
        key = unseal(private_key, sealed)
    except SealError:
        raise ValueError(
            "the bind key does not open with this gateway's key (sealed to another "
            "gateway, or corrupted)"
        ) from None
    if len(key) != 16:
        raise ValueError(f"a bind key is 16 bytes, got {len(key)}")
    return key


def _contacts(private_key: str, resident: ResidentConfig) -> list[str]:
    if not private_key:
        raise ValueError("this gateway has no private key to open sealed contacts with")
    assert resident.sealed_contacts is not None
    try:
        numbers = json.loads(unseal(private_key, resident.sealed_contacts))
    except SealError:
        raise ValueError("the contacts do not open with this gateway's key") from None
    except ValueError:
        raise ValueError("the contacts are not JSON") from None
    if not isinstance(numbers, list):
        raise ValueError("the contacts must be a list of numbers")
    cleaned = []
    for n, number in enumerate(numbers):
        text = number.replace(" ", "").replace("-", "") if isinstance(number, str) else None
        if text is None or not _PHONE_RE.match(text):
            # The position, never the value: numbers stay out of reports and logs.
            raise ValueError(f"contact {n + 1} is not a phone number")
        cleaned.append(text)
    return cleaned


def open_config(received: ReceivedConfig, private_key: str) -> DesiredConfig:
    """Open every sealed secret; an entry whose secret does not open is set aside."""
    config = received.config
    set_aside = list(received.set_aside)
    keys: dict[str, bytes] = {}
    bands: list[BandConfig] = []
    for band in config.bands:
        try:
            keys[band.mac] = _unseal_key(private_key, band.sealed_key)
        except ValueError as exc:
            set_aside.append(SetAside(section=ConfigSection.BANDS, name=band.mac, reason=str(exc)))
            continue
        bands.append(band)
    sensor_keys: dict[str, bytes | None] = {}
    sensors: list[SensorConfig] = []
    for sensor in config.sensors:
        try:
            opened = (
                None if sensor.sealed_key is None else _unseal_key(private_key, sensor.sealed_key)
            )
        except ValueError as exc:
            set_aside.append(
                SetAside(section=ConfigSection.SENSORS, name=sensor.mac, reason=str(exc))
            )
            continue
        if sensor.mac in keys:
            set_aside.append(
                SetAside(
                    section=ConfigSection.SENSORS,
                    name=sensor.mac,
                    reason="this MAC is also listed as a band",
                )
            )
            continue
        sensor_keys[sensor.mac] = opened
        sensors.append(sensor)
    contacts: dict[str, list[str]] = {}
    for resident in config.residents:
        if resident.sealed_contacts is None:
            continue
        try:
            contacts[resident.resident] = _contacts(private_key, resident)
        except ValueError as exc:
            # The resident's plan still applies; only the offline SMS numbers are missing.
            set_aside.append(
                SetAside(section=ConfigSection.CONTACTS, name=resident.resident, reason=str(exc))
            )
    opened_config = config.model_copy(update={"bands": bands, "sensors": sensors})
    return DesiredConfig(
        opened_config, keys, sensor_keys, contacts, set_aside, received.rules_valid
    )


def _version_of(payload: bytes) -> int | None:
    try:
        raw = json.loads(payload)
    except ValueError:
        return None
    version = raw.get("version") if isinstance(raw, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


class ConfigApplier:
    def __init__(self, gateway_id: str, private_key: str, data_dir: Path) -> None:
        self.gateway_id = gateway_id
        self._private_key = private_key
        self.path = data_dir / CONFIG_FILE
        self._sections: list[_Section] = []
        self.current: DesiredConfig | None = None
        self.rejected: ConfigReport | None = None  # the last refusal, for the status file
        self.set_aside: list[SetAside] = []  # parts of the running config not applied
        self.applied = 0
        self.refused = 0

    @property
    def version(self) -> int | None:
        return None if self.current is None else self.current.version

    def register(self, name: str, apply: Apply, check: Check | None = None) -> None:
        """Add a section; if a config already runs, the section gets it at once."""
        section = _Section(name, apply, check)
        self._sections.append(section)
        if self.current is not None:
            section.apply(self.current)

    def report(self) -> ConfigReport | None:
        """What to publish on ``config/reported`` (after a reconnect, for instance)."""
        if self.rejected is not None:
            return self.rejected
        if self.current is None:
            return None
        return self._applied_report()

    def _applied_report(self) -> ConfigReport:
        assert self.current is not None
        return ConfigReport(
            gateway=self.gateway_id,
            version=self.current.version,
            ok=True,
            set_aside=list(self.set_aside),
        )

    def load_persisted(self) -> None:
        """At start-up: run the last good config, so no broker is needed to start."""
        try:
            payload = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("config: cannot read %s: %s; running without it", self.path, exc)
            return
        try:
            desired = self._validate(payload, persisted=True)
            self._apply(desired)
        except ConfigRejected as exc:
            log.error("config: %s is not usable (%s); running without it", self.path, exc)
            return
        log.info("config: version %d loaded from %s", desired.version, self.path)

    def receive(self, payload: bytes) -> ConfigReport | None:
        """A desired config from the fleet: apply it or refuse it; return the report.

        An empty payload clears a retained message on the broker (the fleet withdrew
        the config): the running config stays and nothing is reported.
        """
        if not payload:
            log.info("config: the fleet cleared the retained config; keeping the running one")
            return None
        try:
            desired = self._validate(payload)
            if self.current is not None and desired.version == self.current.version:
                # The retained copy again (every reconnect delivers it): nothing to do.
                self.rejected = None
                return self._applied_report()
            self._apply(desired)
        except ConfigRejected as exc:
            self.refused += 1
            version = _version_of(payload)
            log.error("config: version %s refused: %s", version, exc)
            self.rejected = ConfigReport(
                gateway=self.gateway_id,
                version=self.version or 0,
                ok=False,
                error=str(exc),
                rejected_version=version,
                set_aside=list(self.set_aside),
            )
            return self.rejected
        self._persist(payload)
        self.rejected = None
        if self.set_aside:
            log.warning(
                "config: version %d applied without %d part(s): %s",
                desired.version,
                len(self.set_aside),
                "; ".join(f"{a.section} {a.name}: {a.reason}" for a in self.set_aside[:5]),
            )
        else:
            log.info("config: version %d applied", desired.version)
        return self._applied_report()

    def _validate(self, payload: bytes, *, persisted: bool = False) -> DesiredConfig:
        try:
            received = decode_config(payload, self.gateway_id)
        except WireError as exc:
            raise ConfigRejected(str(exc)) from None
        version = received.config.version
        if not persisted and self.current is not None and version < self.current.version:
            raise ConfigRejected(
                f"version {version} is older than the running version {self.current.version}"
            )
        desired = open_config(received, self._private_key)
        for section in self._sections:
            if section.check is not None:
                try:
                    section.check(desired)
                except ConfigRejected:
                    raise
                except ValueError as exc:
                    raise ConfigRejected(f"{section.name}: {exc}") from None
        return desired

    def _apply(self, desired: DesiredConfig) -> None:
        previous = self.current
        done: list[_Section] = []
        set_aside = list(desired.set_aside)
        try:
            for section in self._sections:
                set_aside += section.apply(desired) or []
                done.append(section)
        except Exception as exc:
            # A section that passed its check failed to apply: a bug. Put the sections
            # already changed back on the previous config, and report it.
            log.exception("config: section failed to apply version %d", desired.version)
            if previous is not None:
                for section in done:
                    try:
                        section.apply(previous)
                    except Exception:
                        log.exception("config: could not restore section %s", section.name)
            raise ConfigRejected(f"applying failed: {type(exc).__name__}: {exc}") from None
        self.current = desired
        self.set_aside = set_aside
        self.applied += 1

    def _persist(self, payload: bytes) -> None:
        # A power cut leaves the old file or the new one.
        try:
            write_atomically(self.path, payload)
        except OSError as exc:
            log.error("config: version applied but not saved to %s: %s", self.path, exc)
