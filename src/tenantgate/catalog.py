"""The model catalog: public model names -> the deployments that serve them, in failover order."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tenantgate.providers.base import Backend, DeploymentInfo, Operation
from tenantgate.providers.registry import BackendServices, build_backend
from tenantgate.settings import ModelRoutingSettings, ModelSettings, Settings


@dataclass(slots=True)
class ModelEntry:
    """One public model: its name and its backends, tried in order."""

    name: str
    owned_by: str
    created: int
    backends: list[Backend]
    operations: frozenset[Operation] = field(default_factory=frozenset)
    routing: ModelRoutingSettings = field(default_factory=ModelRoutingSettings)

    def to_openai(self) -> dict[str, object]:
        """OpenAI's Model object."""
        return {"id": self.name, "object": "model", "created": self.created, "owned_by": self.owned_by}


class Catalog:
    """Lookup of models by public name; built once at start-up from settings."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self._entries = {entry.name: entry for entry in entries}

    def get(self, name: str) -> ModelEntry | None:
        return self._entries.get(name)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def backends(self) -> list[Backend]:
        return [backend for entry in self._entries.values() for backend in entry.backends]

    async def aclose(self) -> None:
        for backend in self.backends():
            await backend.aclose()


def configured_models(settings: Settings) -> list[ModelSettings]:
    """The catalog's models: the embedded local defaults (unless disabled) then the configured ones.

    A configured model with the same name as a default replaces it.
    """
    models = list(settings.models)
    if settings.local.enabled:
        from tenantgate.providers.local import default_models

        configured = {m.name for m in models}
        models = [m for m in default_models(settings.local) if m.name not in configured] + models
    return models


def build_catalog(settings: Settings, services: BackendServices) -> Catalog:
    """Instantiate every deployment's backend (no network I/O happens here)."""
    created = int(time.time())
    entries: list[ModelEntry] = []
    for model in configured_models(settings):
        backends: list[Backend] = []
        for index, deployment in enumerate(model.deployments):
            info = DeploymentInfo(
                model_name=model.name,
                provider=deployment.provider,
                upstream_model=deployment.model,
                region=deployment.region,
                index=index,
                cloud=deployment.cloud,
                residency=frozenset(deployment.residency),
                capacity_class=deployment.capacity_class,
                throughput_tokens_per_min=deployment.throughput_tokens_per_min,
                concurrent_requests_max=deployment.concurrent_requests_max,
                weight=deployment.weight,
                priority=deployment.priority,
                reservations=tuple(deployment.reservations),
                capacity_queue=deployment.capacity_queue,
            )
            backends.append(build_backend(deployment, info, services))
        operations = frozenset(op for b in backends for op in b.capabilities.operations)
        entries.append(ModelEntry(model.name, model.owned_by, created, backends, operations, model.routing))
    return Catalog(entries)
