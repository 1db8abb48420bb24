"""Loading a process's settings: a TOML file, then environment variables on top.

Each process (gateway, fleet) has one pydantic-settings class. A missing or invalid
value stops start-up with a message naming the setting and where to set it.
"""

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

_S = TypeVar("_S", bound=BaseSettings)


class ConfigError(Exception):
    """Settings that cannot be used; the message names each bad value."""


def load_settings(cls: type[_S], path: Path | None, **overrides: Any) -> _S:
    """Build ``cls`` from the TOML file at ``path`` (optional), the environment and overrides.

    Precedence, highest first: ``overrides`` (command-line flags), environment
    variables (``cls``'s prefix, ``__`` between nested names), the file, defaults.
    Nested sections merge key by key across the three.
    """
    if path is not None:
        try:
            tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None

    class _FromFile(cls):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls_,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            return tuple(sources)

    _FromFile.__name__ = cls.__name__
    try:
        settings: _S = _FromFile(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        raise ConfigError(describe_validation_error(exc, prefix, path)) from None
    return settings


def describe_validation_error(exc: ValidationError, prefix: str, path: Path | None) -> str:
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        env = prefix + "__".join(str(part) for part in error["loc"]).upper()
        where = f"in {path} or " if path else ""
        lines.append(f"setting '{name}': {error['msg']} (set it {where}with ${env})")
    return "invalid configuration:\n  " + "\n  ".join(lines)
