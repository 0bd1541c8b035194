"""Settings of dedicated capacity: reservations per owner compartment and the queue of waiters.

Part of the settings tree (``settings.DeploymentSettings`` holds them). Nothing here reads
the environment.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field


class ReservationRule(BaseModel):
    """Slots of a dedicated deployment that one compartment owns (docs/routing.md, Dedicated capacity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    compartment: str = Field(
        description=(
            "Owner compartment path (`Finance:EU` or `Finance/EU`); covers its descendants, nearest wins."
        )
    )
    concurrent_requests: int = Field(
        ge=1, description="Concurrent requests reserved for the owner; other compartments never use them."
    )
    spill_over: bool = Field(
        True,
        description=(
            "When the owner's slots and the idle shared ones are taken, try the model's next deployment "
            "(on demand) instead of waiting in the queue."
        ),
    )


class CapacityQueueSettings(BaseModel):
    """The bounded queue of a dedicated deployment with reservations: who waits for a slot, how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue_max: int = Field(
        16, ge=0,
        description=(
            "Requests waiting for a slot at once; when full, other compartments' waiters are shed first."
        ),
    )
    queue_deadline_ms: int = Field(
        2_000, ge=1,
        description="Longest a request waits for a slot (then 503 dedicated_capacity_deadline_exceeded).",
    )


Reservations = Annotated[list[ReservationRule], Field(description=(
    "Slots of a dedicated deployment reserved per owner compartment; the rest of "
    "concurrent_requests_max is shared, and other compartments only ever use idle shared slots."
))]
"""``models[].deployments[].reservations``: the field's type, with its description."""


class _Sized(Protocol):
    """What the check reads of a deployment's settings (``settings.DeploymentSettings``)."""

    @property
    def capacity_class(self) -> str: ...
    @property
    def throughput_tokens_per_min(self) -> int | None: ...
    @property
    def concurrent_requests_max(self) -> int | None: ...
    @property
    def reservations(self) -> list[ReservationRule]: ...


def _path_of(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.replace(":", "/").split("/") if part.strip())


def check_capacity(deployment: _Sized) -> None:
    """Dedicated capacity has a size, and its reservations fit in ``concurrent_requests_max``."""
    sized = deployment.throughput_tokens_per_min or deployment.concurrent_requests_max
    if deployment.capacity_class == "dedicated" and not sized:
        raise ValueError("a dedicated deployment needs throughput_tokens_per_min or concurrent_requests_max")
    if not deployment.reservations:
        return
    total = deployment.concurrent_requests_max
    if deployment.capacity_class != "dedicated" or total is None:
        raise ValueError("reservations need a dedicated deployment with concurrent_requests_max")
    reserved = sum(rule.concurrent_requests for rule in deployment.reservations)
    if reserved > total:
        raise ValueError(f"reservations hold {reserved} slots, more than concurrent_requests_max ({total})")
    paths = [_path_of(rule.compartment) for rule in deployment.reservations]
    if len(set(paths)) != len(paths):
        raise ValueError("reservations name the same compartment twice")
