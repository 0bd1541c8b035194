"""Which limits apply to a call: the configured rules matched against who calls what. Pure.

A rule names a *scope* (key, user, compartment, model) and a *match* (``*``: each subject
separately; otherwise one subject). Its limits become counters named by kind, scope,
subject and model, so two replicas with the same rules count in the same Redis keys, and two
rules that count the same thing share one counter (the smaller limit wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.model import format_path
from tenantgate.iam.principal import Principal
from tenantgate.settings import RateLimitRule


class LimitKind(StrEnum):
    """What a limit counts."""

    REQUESTS = "requests"
    TOKENS = "tokens"
    CONCURRENT = "concurrent"


@dataclass(frozen=True, slots=True)
class Limit:
    """One counter a call is charged against, and its ceiling."""

    counter: str
    kind: LimitKind
    limit: int


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the rules look at: the key, the user, the compartment acted in, the public model."""

    key_id: str | None
    user_id: str | None
    compartment: CompartmentRecord | None
    model: str


def facts_of(principal: Principal, compartment: CompartmentRecord | None, model: str) -> CallFacts:
    """A static key counts as a key (its principal id); the anonymous caller has no key."""
    key_id = principal.key_id or (principal.id if principal.type == "static-key" else None)
    user_id = principal.id if principal.type == "user" else None
    return CallFacts(key_id, user_id, compartment, model)


def _compartment_subject(match: str, compartment: CompartmentRecord | None) -> str | None:
    """``*``: the compartment acted in; else the named one if it is that or one of its ancestors."""
    if compartment is None:
        return None
    if match == "*":
        return compartment.id
    for depth, compartment_id in enumerate(compartment.ids):
        if match in (compartment_id, format_path(compartment.path[: depth + 1])):
            return compartment_id
    return None


def _subject(rule: RateLimitRule, facts: CallFacts) -> str | None:
    if rule.scope == "compartment":
        return _compartment_subject(rule.match, facts.compartment)
    subject = {"key": facts.key_id, "user": facts.user_id, "model": facts.model}[rule.scope]
    if subject is None or rule.match not in ("*", subject):
        return None
    return subject


def _rule_limits(rule: RateLimitRule) -> list[tuple[LimitKind, int]]:
    limits = [(LimitKind.REQUESTS, rule.requests_per_minute), (LimitKind.TOKENS, rule.tokens_per_minute),
              (LimitKind.CONCURRENT, rule.concurrent_requests)]
    return [(kind, value) for kind, value in limits if value is not None]


def applicable_limits(rules: Sequence[RateLimitRule], facts: CallFacts) -> list[Limit]:
    """The counters this call is charged against, one per distinct counter, smallest limit kept."""
    chosen: dict[str, Limit] = {}
    for rule in rules:
        if rule.model not in (None, "*", facts.model):
            continue
        subject = _subject(rule, facts)
        if subject is None:
            continue
        model_part = "" if rule.model is None else facts.model
        for kind, value in _rule_limits(rule):
            counter = f"{kind.value}|{rule.scope}|{subject}|{model_part}"
            known = chosen.get(counter)
            if known is None or value < known.limit:
                chosen[counter] = Limit(counter, kind, value)
    return list(chosen.values())
