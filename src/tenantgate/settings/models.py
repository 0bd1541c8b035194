"""The model catalog: public models, their deployments and each model's routing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tenantgate.settings import capacity as _capacity
from tenantgate.settings._section import _Section
from tenantgate.settings.gateway import UpstreamTimeouts
from tenantgate.settings.routing import StrategyName


class DeploymentSettings(BaseModel):
    """One place a model is served: a provider, an endpoint, an upstream model and a credential.

    Provider-specific fields (e.g. ``api_version``, ``compartment_id``) are validated by the
    provider module itself, so its quirks stay in one place.
    """

    model_config = ConfigDict(extra="allow")

    provider: str = Field(description="Provider adapter name (one of docs/providers/).")
    model: str = Field(description="The model (or deployment) name the upstream expects.")
    base_url: str | None = Field(None, description="Endpoint base URL; fixed by config, never by clients.")
    region: str | None = Field(None, description="Cloud region of the deployment.")
    credential_env: str | None = Field(None, description="Environment variable holding the secret.")
    credential_file: str | None = Field(None, description="File holding the secret.")
    timeouts: UpstreamTimeouts | None = Field(None, description="Overrides of upstream.timeouts.")
    cloud: str | None = Field(None, description="Cloud the deployment runs in (e.g. azure, oci), for views.")
    residency: list[str] = Field(
        default_factory=list,
        description="Residency tags (e.g. eu, us, sovereign); pinned compartments use only matching ones.",
    )
    capacity_class: Literal["on_demand", "dedicated"] = Field(
        "on_demand", description="Shared pay-per-token capacity, or dedicated capacity of a known size."
    )
    throughput_tokens_per_min: int | None = Field(
        None, ge=1, description="A dedicated deployment's throughput, in tokens per minute."
    )
    concurrent_requests_max: int | None = Field(
        None, ge=1, description="A dedicated deployment's concurrent requests (least_busy divides by it)."
    )
    weight: int = Field(1, ge=0, description="Traffic share under the weighted strategy (0: failover only).")
    priority: int | None = Field(
        None, description="Order under the priority strategy, lowest first (default: position in the list)."
    )
    reservations: _capacity.Reservations = Field(default_factory=list)
    capacity_queue: _capacity.CapacityQueueSettings = Field(default_factory=_capacity.CapacityQueueSettings)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    def provider_options(self) -> dict[str, Any]:
        """The provider-specific fields, for the provider to validate."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _dedicated_has_a_size(self) -> DeploymentSettings:
        _capacity.check_capacity(self)
        return self


class ModelRoutingSettings(_Section):
    """How one model picks among its deployments, and which models it may fall back to."""

    strategy: list[StrategyName] = Field(
        default_factory=lambda: list[StrategyName](["priority"]),
        description="Strategies in order; each later one breaks the ties of those before it.",
    )
    fallbacks: list[str] = Field(
        default_factory=list,
        description="Models tried, in order, when every deployment failed (where the compartment allows it).",
    )
    attempts_max: int | None = Field(None, ge=1, le=20, description="Overrides routing.retry.attempts_max.")
    same_deployment_retries: int | None = Field(
        None, ge=0, le=5, description="Overrides routing.retry.same_deployment_retries."
    )

    @field_validator("strategy", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ModelSettings(_Section):
    """A public model name and the deployments that serve it, tried in order."""

    name: str = Field(description="The name clients send as `model`.")
    deployments: list[DeploymentSettings] = Field(min_length=1)
    owned_by: str = Field("tenantgate", description="`owned_by` shown in /v1/models.")
    max_output_tokens: int | None = Field(
        None, ge=1,
        description="The model's output cap: what a credit hold assumes when a request sets no max_tokens.",
    )
    routing: ModelRoutingSettings = Field(default_factory=ModelRoutingSettings)
