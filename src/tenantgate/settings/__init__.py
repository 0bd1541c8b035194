"""The one settings tree: defaults, then a TOML/YAML file, then ``TENANTGATE_*`` environment variables.

This package is the only part that reads the environment for configuration (12-factor). Nested
fields are set with ``__``: ``TENANTGATE_SERVER__PORT=9000``. Every field carries a
description and a unit in its name; ``docs/reference/settings.md`` lists them all and a test
keeps the two in step.

Sections live in modules by concern (``gateway``, ``routing``, ``models``, ``credits``,
``rate_limits``, ``capacity``); import them from here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tenantgate.settings._section import SettingsError
from tenantgate.settings.capacity import CapacityQueueSettings, ReservationRule
from tenantgate.settings.credits import CreditsSettings, IdempotencySettings, RateSettings
from tenantgate.settings.gateway import (
    AuthSettings,
    LocalSettings,
    LoggingSettings,
    ServerSettings,
    StorageSettings,
    UpstreamSettings,
    UpstreamTimeouts,
)
from tenantgate.settings.models import DeploymentSettings, ModelRoutingSettings, ModelSettings
from tenantgate.settings.rate_limits import RateLimitRule, RateLimitSettings
from tenantgate.settings.routing import (
    BreakerSettings,
    LatencySettings,
    ProbeSettings,
    ResidencyRule,
    RetrySettings,
    RoutingSettings,
    StrategyName,
)

CONFIG_FILE_ENV = "TENANTGATE_CONFIG"

__all__ = [
    "CONFIG_FILE_ENV", "AuthSettings", "BreakerSettings", "CapacityQueueSettings", "CreditsSettings",
    "DeploymentSettings", "IdempotencySettings", "LatencySettings", "LocalSettings", "LoggingSettings",
    "ModelRoutingSettings", "ModelSettings", "ProbeSettings", "RateLimitRule", "RateLimitSettings",
    "RateSettings", "ReservationRule", "ResidencyRule", "RetrySettings", "RoutingSettings", "ServerSettings",
    "Settings",
    "SettingsError", "StorageSettings", "StrategyName", "UpstreamSettings", "UpstreamTimeouts",
    "export_for_workers", "load_settings", "read_config_file", "read_secret",
]


class Settings(BaseSettings):
    """Everything Tenantgate can be told, one section per concern."""

    model_config = SettingsConfigDict(
        env_prefix="TENANTGATE_", env_nested_delimiter="__", extra="forbid"
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    credits: CreditsSettings = Field(default_factory=CreditsSettings)
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    models: list[ModelSettings] = Field(default_factory=list, description="The model catalog.")

    @model_validator(mode="after")
    def _unique_model_names(self) -> Settings:
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique; repeated: {', '.join(duplicates)}")
        return self


class _FileSource(PydanticBaseSettingsSource):
    """Reads one TOML or YAML file as a settings source."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML (.toml) or YAML (.yaml/.yml) file into a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the top level must be a mapping")
    return data


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the file (or $TENANTGATE_CONFIG), env and overrides.

    Precedence, highest first: ``overrides`` (CLI flags), environment, file, defaults.
    """
    path = config_file or os.environ.get(CONFIG_FILE_ENV)
    file_data = read_config_file(Path(path)) if path else {}

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _FileSource(settings_cls, file_data))

    try:
        loaded = _Loaded(**overrides)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    return Settings.model_validate(loaded.model_dump())


def export_for_workers(config_file: Path | None, host: str | None, port: int | None) -> None:
    """Put the CLI's choices into the environment, where every server worker's load_settings finds them.

    Worker processes build their own app from the same sources, so the CLI flags travel as the
    same variables an operator could have set.
    """
    if config_file is not None:
        os.environ[CONFIG_FILE_ENV] = str(config_file.resolve())
    if host is not None:
        os.environ["TENANTGATE_SERVER__HOST"] = host
    if port is not None:
        os.environ["TENANTGATE_SERVER__PORT"] = str(port)


def read_secret(env_name: str | None, file_path: str | None) -> str | None:
    """Resolve a credential reference; the value is never logged or echoed."""
    if env_name:
        return os.environ.get(env_name)
    if file_path:
        try:
            return Path(file_path).expanduser().read_text(encoding="utf-8").strip()
        except OSError:
            return None
    return None

