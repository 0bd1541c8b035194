"""The ``local`` provider: embedded models computed in-process on the CPU.

With no configuration the catalog offers the two embedded defaults (:func:`default_models`):
an instruction-tuned SmolLM2 chat model and the MiniLM embedding model, both shipped inside
installed Python packages. Other GGUF chat models are added in the catalog config::

    models:
      - name: my-model
        deployments:
          - provider: local
            model: my-model            # a label (or a built-in id, see BUILTIN_MODELS)
            path: /models/file.gguf    # absolute path to a GGUF file
            threads: 2                 # optional, default local.threads
            context_tokens: 4096       # optional, default local.context_tokens
            instances: 2               # optional, default local.instances
            max_output_tokens: 256     # optional, default local.max_output_tokens
            chat_template: "..."       # optional Jinja template when the GGUF has none
            system_prompt: "..."       # optional system message when a request has none
            temperature: 0.7           # optional temperature when a request gives none

Model files are located when a model first loads, so a gateway without the local extras
still starts; requests to the model then fail with ``local_model_unavailable`` naming the
pip command to run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from tenantgate.local.chat_backend import LocalChatBackend
from tenantgate.local.chat_engine import ChatEngine, ChatEngineConfig
from tenantgate.local.embedding_backend import LocalEmbeddingBackend
from tenantgate.local.embedding_engine import EmbeddingEngine, EmbeddingEngineConfig
from tenantgate.local.generation_request import GenerationDefaults
from tenantgate.local.model_files import (
    BUILTIN_MODELS,
    MINILM_L6_V2_INT8,
    SMOLLM2_135M_INSTRUCT,
    BuiltinModel,
    ModelFiles,
    ModelKind,
    locate_builtin,
    locate_gguf,
)
from tenantgate.local.residency import loaded_models
from tenantgate.local.scheduler import Scheduler
from tenantgate.providers.base import Backend, DeploymentInfo
from tenantgate.settings import DeploymentSettings, LocalSettings, ModelSettings

if TYPE_CHECKING:  # the registry imports this module to register it
    from tenantgate.providers.registry import BackendServices

__all__ = [
    "LocalOptions",
    "create_backend",
    "default_models",
    "loaded_model_memory",
    "loaded_models",
]

loaded_model_memory = loaded_models
"""(model, bytes) of loaded local models for the /metrics gauge; see tenantgate.local.residency."""


class LocalOptions(BaseModel):
    """Provider-specific fields of a ``provider: local`` deployment."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, description="Absolute path of a GGUF chat model file.")
    threads: int | None = Field(None, ge=1, description="CPU threads; default local.threads.")
    context_tokens: int | None = Field(None, ge=256, description="Context window in tokens.")
    max_output_tokens: int | None = Field(None, ge=1, description="Default output cap.")
    instances: int | None = Field(
        None, ge=1, le=16, description="Copies serving at once; default local.instances."
    )
    chat_template: str | None = Field(None, description="Jinja chat template override.")
    system_prompt: str | None = Field(
        None, description="System message used when a request has none (built-ins have one)."
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Temperature used when a request gives none (OpenAI: 1)."
    )


def default_models(local: LocalSettings) -> list[ModelSettings]:
    """The embedded defaults: the SmolLM2 chat model and the MiniLM embedding model."""
    return [
        ModelSettings(
            name=local.chat_model_name,
            deployments=[_builtin_deployment(SMOLLM2_135M_INSTRUCT)],
            owned_by="tenantgate-local",
        ),
        ModelSettings(
            name=local.embedding_model_name,
            deployments=[_builtin_deployment(MINILM_L6_V2_INT8)],
            owned_by="tenantgate-local",
        ),
    ]


def create_backend(
    deployment: DeploymentSettings, info: DeploymentInfo, services: BackendServices
) -> Backend:
    """Build the local backend of one deployment (no model file is opened here)."""
    local = services.local
    options = LocalOptions.model_validate(deployment.provider_options())
    locate, kind = _locator(deployment.model, options.path)
    label = info.model_name if info.index == 0 else f"{info.model_name}#{info.index}"
    if kind is ModelKind.EMBEDDING:
        scheduler = Scheduler(
            slots=1, queue_max=local.queue_max, queue_deadline_ms=local.queue_deadline_ms
        )
        engine = EmbeddingEngine(
            EmbeddingEngineConfig(label=label, locate=locate,
                                  threads=options.threads or local.embedding_threads)
        )
        return LocalEmbeddingBackend(
            info=info, engine=engine, scheduler=scheduler, idle_unload_s=local.idle_unload_s
        )
    config = ChatEngineConfig(
        label=label,
        locate=locate,
        context_tokens=options.context_tokens or local.context_tokens,
        threads=options.threads or local.threads,
        max_output_tokens=options.max_output_tokens or local.max_output_tokens,
        chat_template=options.chat_template,
    )
    instances = options.instances or local.instances
    return LocalChatBackend(
        info=info,
        engines=[ChatEngine(config) for _ in range(instances)],
        scheduler=Scheduler(
            slots=instances, queue_max=local.queue_max, queue_deadline_ms=local.queue_deadline_ms
        ),
        idle_unload_s=local.idle_unload_s,
        defaults=_generation_defaults(options, BUILTIN_MODELS.get(deployment.model)),
    )


def _generation_defaults(options: LocalOptions, builtin: BuiltinModel | None) -> GenerationDefaults:
    """The deployment's own defaults, else the built-in model's measured ones, else OpenAI's."""
    system_prompt = options.system_prompt or (builtin.system_prompt if builtin else None)
    temperature = options.temperature
    if temperature is None and builtin is not None:
        temperature = builtin.temperature
    return GenerationDefaults(
        system_prompt=system_prompt, temperature=1.0 if temperature is None else temperature
    )


def _builtin_deployment(builtin_id: str) -> DeploymentSettings:
    return DeploymentSettings.model_validate({"provider": "local", "model": builtin_id})


def _locator(model: str, path: str | None) -> tuple[Callable[[], ModelFiles], ModelKind]:
    if path is not None:
        return (lambda: locate_gguf(path)), ModelKind.CHAT
    builtin = BUILTIN_MODELS.get(model)
    kind = builtin.kind if builtin is not None else ModelKind.CHAT
    return (lambda: locate_builtin(model)), kind
