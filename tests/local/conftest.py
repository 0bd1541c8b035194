"""Builders for local backends on the real embedded models (no mocks; each load takes ~0.2 s)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from local_bodies import ChatFactory

from tenantgate.local.chat_backend import LocalChatBackend
from tenantgate.local.embedding_backend import LocalEmbeddingBackend
from tenantgate.providers.base import DeploymentInfo
from tenantgate.providers.local import create_backend, default_models
from tenantgate.settings import LocalSettings


def _build(local: LocalSettings, index: int) -> Any:
    model = default_models(local)[index]
    deployment = model.deployments[0]
    info = DeploymentInfo(model.name, "local", deployment.model, None, 0)
    return create_backend(deployment, info, SimpleNamespace(local=local))  # type: ignore[arg-type]


@pytest.fixture
async def make_chat() -> AsyncIterator[ChatFactory]:
    """Build chat backends with LocalSettings overrides; all are closed after the test."""
    built: list[LocalChatBackend] = []

    async def factory(**overrides: Any) -> LocalChatBackend:
        backend = _build(LocalSettings.model_validate(overrides), 0)
        assert isinstance(backend, LocalChatBackend)
        built.append(backend)
        await backend.warm_up()
        return backend

    yield factory
    for backend in built:
        await backend.aclose()


@pytest.fixture
async def chat(make_chat: ChatFactory) -> LocalChatBackend:
    """The default chat backend, loaded."""
    return await make_chat()


@pytest.fixture
async def embeddings() -> AsyncIterator[LocalEmbeddingBackend]:
    """The default embedding backend, loaded."""
    backend = _build(LocalSettings(), 1)
    assert isinstance(backend, LocalEmbeddingBackend)
    await backend.warm_up()
    yield backend
    await backend.aclose()

