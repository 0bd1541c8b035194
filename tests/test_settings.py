import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from tenantgate.settings import Settings, SettingsError, load_settings

DOC = Path(__file__).parents[1] / "docs" / "reference" / "settings.md"


def _leaf_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and name != "models":
            paths += _leaf_paths(annotation, f"{prefix}{name}.")
        else:
            paths.append(prefix + name)
    return paths


def test_every_setting_is_documented():
    documented = set(re.findall(r"^\| `([a-z0-9_.\[\]]+)` \|", DOC.read_text(), flags=re.M))
    assert set(_leaf_paths(Settings)) <= documented


def test_environment_overrides_file_and_file_overrides_defaults(tmp_path, monkeypatch):
    config = tmp_path / "tg.yaml"
    config.write_text("server:\n  port: 9001\n  host: 0.0.0.0\nlocal:\n  enabled: false\n")
    monkeypatch.setenv("TENANTGATE_SERVER__PORT", "9002")
    settings = load_settings(config)
    assert settings.server.port == 9002
    assert settings.server.host == "0.0.0.0"
    assert settings.local.enabled is False
    assert settings.server.request_body_max_bytes == 8 * 1024 * 1024


def test_toml_files_are_read(tmp_path):
    config = tmp_path / "tg.toml"
    config.write_text('[[models]]\nname = "m"\n[[models.deployments]]\nprovider = "openai"\nmodel = "gpt-4o"\napi_version = "x"\n')
    settings = load_settings(config)
    assert settings.models[0].deployments[0].provider_options() == {"api_version": "x"}


@pytest.mark.parametrize(
    "text",
    ["server: [", "- a list", "server:\n  port: notaport\n", "unknown_section: {}\n",
     "models:\n  - name: a\n    deployments: [{provider: openai, model: x}]\n  - name: a\n    deployments: [{provider: openai, model: y}]\n"],
)
def test_invalid_files_raise_settings_error(tmp_path, text):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(SettingsError):
        load_settings(config)
