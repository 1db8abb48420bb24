"""The fleet's desired config, taken in without a restart: validate, open, apply, persist.

The fleet publishes a ``GatewayConfig`` retained on ``sg/v1/gw/{id}/config``. A new
version goes through three steps, and the running one stays unless all succeed:

1. **Validate and open**: the schema, the gateway id, a version that does not go
   backwards, every band's MAC, every sealed bind key opened with this gateway's
   private key (16 bytes), every resident's sealed contact list (phone numbers).
2. **Check**: every registered section (bands, offline SMS, and the rules and meters
   when they register) looks at the opened config and may refuse it with a reason.
3. **Apply**: every section takes the new config, then it is written to
   ``data_dir/config.json`` (still sealed) so a restart without the broker runs it.

The outcome is a ``ConfigReport`` for ``config/reported``: the version running, and
for a refused one its version and the reason. Reasons never quote a secret.

Sections register with ``register(name, apply, check)``; the rules and meters hook in
the same way without this module knowing their schemas.
"""

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contract import WireError, decode
from contract.config import ConfigReport, GatewayConfig
from contract.sealing import SealError, unseal
from edge.settings import normalise_mac

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"

# A phone number as the modem dials it: optional +, then 5-20 digits (E.164 is at most
# 15; national formats with a trunk prefix and short service numbers fit too).
_PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")


class ConfigRejected(ValueError):
    """A desired config that cannot run; the message says why (and names no secret)."""


@dataclass(frozen=True, slots=True)
class DesiredConfig:
    """A validated config with its secrets opened — what the sections get."""

    config: GatewayConfig
    band_keys: dict[str, bytes] = field(default_factory=dict)  # MAC -> bind key
    contacts: dict[str, list[str]] = field(default_factory=dict)  # resident -> numbers

    @property
    def version(self) -> int:
        return self.config.version


Check = Callable[[DesiredConfig], None]
Apply = Callable[[DesiredConfig], None]


@dataclass(frozen=True, slots=True)
class _Section:
    name: str
    apply: Apply
    check: Check | None


def open_config(config: GatewayConfig, private_key: str) -> DesiredConfig:
    """Validate a config and open its sealed secrets; ConfigRejected says what is wrong."""
    keys: dict[str, bytes] = {}
    for i, band in enumerate(config.bands):
        try:
            mac = normalise_mac(band.mac)
        except ValueError as exc:
            raise ConfigRejected(f"bands[{i}].mac: {exc}") from None
        if mac in keys:
            raise ConfigRejected(f"bands[{i}]: band {mac} is listed twice")
        if not private_key:
            raise ConfigRejected("the config holds sealed keys but this gateway has no private key")
        try:
            key = unseal(private_key, band.sealed_key)
        except SealError:
            raise ConfigRejected(
                f"bands[{i}] ({mac}): the bind key does not open with this gateway's key "
                "(sealed to another gateway, or corrupted)"
            ) from None
        if len(key) != 16:
            raise ConfigRejected(f"bands[{i}] ({mac}): a bind key is 16 bytes, got {len(key)}")
        keys[mac] = key
    contacts: dict[str, list[str]] = {}
    residents: set[str] = set()
    for i, resident in enumerate(config.residents):
        if resident.resident in residents:
            raise ConfigRejected(f"residents[{i}]: resident {resident.resident} is listed twice")
        residents.add(resident.resident)
        if resident.sealed_contacts is None:
            continue
        if not private_key:
            raise ConfigRejected("the config holds sealed contacts but this gateway has no key")
        try:
            numbers = json.loads(unseal(private_key, resident.sealed_contacts))
        except SealError:
            raise ConfigRejected(
                f"residents[{i}] ({resident.resident}): the contacts do not open with this "
                "gateway's key"
            ) from None
        except ValueError:
            raise ConfigRejected(
                f"residents[{i}] ({resident.resident}): the contacts are not JSON"
            ) from None
        if not isinstance(numbers, list):
            raise ConfigRejected(
                f"residents[{i}] ({resident.resident}): the contacts must be a list of numbers"
            )
        cleaned = []
        for n, number in enumerate(numbers):
            text = number.replace(" ", "").replace("-", "") if isinstance(number, str) else None
            if text is None or not _PHONE_RE.match(text):
                # The position, never the value: numbers stay out of reports and logs.
                raise ConfigRejected(
                    f"residents[{i}] ({resident.resident}): contact {n + 1} is not a phone number"
                )
            cleaned.append(text)
        contacts[resident.resident] = cleaned
    return DesiredConfig(config, keys, contacts)


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
        return ConfigReport(gateway=self.gateway_id, version=self.current.version, ok=True)

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
                return ConfigReport(gateway=self.gateway_id, version=desired.version, ok=True)
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
            )
            return self.rejected
        self._persist(payload)
        self.rejected = None
        log.info("config: version %d applied", desired.version)
        return ConfigReport(gateway=self.gateway_id, version=desired.version, ok=True)

    def _validate(self, payload: bytes, *, persisted: bool = False) -> DesiredConfig:
        try:
            config = decode(payload, GatewayConfig)
        except WireError as exc:
            raise ConfigRejected(str(exc)) from None
        if config.gateway != self.gateway_id:
            raise ConfigRejected(f"the config is for gateway {config.gateway!r}, not this one")
        if config.version < 0:
            raise ConfigRejected("version must not be negative")
        if not persisted and self.current is not None and config.version < self.current.version:
            raise ConfigRejected(
                f"version {config.version} is older than the running version {self.current.version}"
            )
        desired = open_config(config, self._private_key)
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
        try:
            for section in self._sections:
                section.apply(desired)
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
        self.applied += 1

    def _persist(self, payload: bytes) -> None:
        # Write-then-rename with fsyncs: a power cut leaves the old file or the new one.
        tmp = self.path.with_suffix(".json.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            log.error("config: version applied but not saved to %s: %s", self.path, exc)
