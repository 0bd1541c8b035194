"""Residency rules: which deployments a compartment's requests may reach, by compartment path.

A rule names a compartment path and covers its descendants; the nearest rule above a
compartment wins. A rule with residency tags admits only deployments carrying one of them:
an untagged deployment is never eligible for a pinned compartment, and failover never
leaves the eligible set. Callers outside any compartment (static keys) follow the
tenancy's own rule, if one is written for the root path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tenantgate.settings import ResidencyRule

_SEPARATORS = re.compile(r"[:/]")


@dataclass(frozen=True, slots=True)
class CompartmentRule:
    """A residency rule, its path split into names."""

    path: tuple[str, ...]
    residency: frozenset[str]
    allow_model_fallback: bool

    @property
    def pinned(self) -> bool:
        """Whether the rule restricts where requests may go."""
        return bool(self.residency)

    def admits(self, tags: frozenset[str]) -> bool:
        """Whether a deployment with these residency tags may serve the rule's requests."""
        return not self.residency or not self.residency.isdisjoint(tags)


def split_path(text: str) -> tuple[str, ...]:
    """``"Finance:EU"`` or ``"Finance/EU"`` -> ``("Finance", "EU")``; ``""`` is the tenancy."""
    return tuple(part for part in _SEPARATORS.split(text.strip()) if part)


class ResidencyRules:
    """Finds the rule in force for a compartment path (nearest ancestor-or-self rule)."""

    def __init__(self, rules: Iterable[ResidencyRule]) -> None:
        self._by_path = {
            split_path(rule.compartment): CompartmentRule(
                split_path(rule.compartment), frozenset(rule.residency), rule.allow_model_fallback
            )
            for rule in rules
        }

    def __bool__(self) -> bool:
        return bool(self._by_path)

    def rule_for(self, path: tuple[str, ...] | None) -> CompartmentRule | None:
        """The rule of the compartment at ``path`` (None: outside any compartment: the root's)."""
        if not self._by_path:
            return None
        path = path or ()
        for length in range(len(path), -1, -1):
            rule = self._by_path.get(path[:length])
            if rule is not None:
                return rule
        return None
