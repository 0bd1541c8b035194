"""The base of every settings section, and the error a bad configuration raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SettingsError(ValueError):
    """The configuration file or environment is invalid; the message says where."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
