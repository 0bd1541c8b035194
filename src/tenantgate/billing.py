"""How the pipeline meters a call: who pays, where it may be routed, and what it used.

A thin layer between ``pipeline.py`` and ``credits.metering``: it turns the caller and
their grant into a ``Payer`` (the key, the user, the target compartment and its ancestors,
and the tenancy), the candidate backends into priced ``Candidate``\\ s, and a finished
answer's usage into a settlement, so the pipeline's flow stays readable top-down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tenantgate.credits.metering import Candidate, Hold, Metering, Payer
from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.principal import Caller
from tenantgate.providers.base import Backend, Usage


def payer_of(caller: Caller, compartment: CompartmentRecord | None, root_id: str | None) -> Payer:
    """The budgets' owners for this call; ungoverned callers pay from the tenancy only."""
    principal = caller.principal
    ids = list(reversed(compartment.ids)) if compartment is not None else []  # the target first
    if root_id is not None:
        ids.append(root_id)
    return Payer(
        key_id=principal.key_id,
        user_id=principal.id if principal.type == "user" else None,
        compartment_ids=tuple(ids),
        principal_type=principal.type,
        principal_id=principal.id,
    )


def candidates_of(backends: Sequence[Backend]) -> list[Candidate]:
    return [Candidate(b.info.upstream_model, b.info.region, b.info.capacity_class) for b in backends]


def settle(metering: Metering, hold: Hold, usage: Usage | None, backend: Backend, trail: Trail) -> int:
    """Charge the answer's cost; without reported usage, the prompt bound and no output (estimated)."""
    info = backend.info
    if usage is None:
        usage = Usage(prompt_tokens=hold.prompt_tokens_max, completion_tokens=0, estimated=True)
    return metering.settle(
        hold, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens, estimated=usage.estimated, region=info.region,
        deployment=info.label, deployment_type=info.capacity_class, latency_ms=trail.latency_ms(),
        attempts=trail.attempt_trail(),
    )


def release(metering: Metering, hold: Hold, trail: Trail) -> None:
    """Free the hold of a call that failed before anything reached the client, recording how it went."""
    metering.release(hold, latency_ms=trail.latency_ms(), attempts=trail.attempt_trail())


class Trail(Protocol):
    """How the call went so far, for its usage record (the pipeline's ``Outcome``)."""

    def latency_ms(self) -> int: ...

    def attempt_trail(self) -> tuple[str, ...]: ...
