"""Why is (or isn't) a principal allowed something? ``tenantgate policy explain`` and the admin API.

The answer is computed by the same evaluator and snapshot the gateway decides with, so an
explanation can never disagree with what a real request would get. Besides the decision
and the statements that allowed it, a denial lists the statements that *nearly* applied
(right resource type and place, but another subject or a false condition), which is
usually the one line an administrator needs to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tenantgate.iam.access_snapshot import CompartmentRecord, IdentitySnapshot, UserRecord
from tenantgate.iam.policy_evaluator import CompiledPolicies, RequestContext
from tenantgate.iam.policy_model import CompartmentId, CompartmentPath, ResourceType, Statement, Verb
from tenantgate.iam.policy_model import Tenancy as TenancyLocation
from tenantgate.iam.principal import Principal


@dataclass(frozen=True, slots=True)
class CitedStatement:
    """A statement as an administrator reads it: its id and its text."""

    id: str
    text: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """The decision for one question, with the statements that made or nearly made it."""

    allowed: bool
    principal: str
    verb: str
    resource_type: str
    compartment: str
    decided_by: tuple[CitedStatement, ...]
    near_misses: tuple[CitedStatement, ...]
    errors: tuple[str, ...]

    def summary(self) -> str:
        """One line: ``ALLOWED``/``DENIED`` and what was asked."""
        verdict = "ALLOWED" if self.allowed else "DENIED"
        return f"{verdict}: {self.principal} to {self.verb} {self.resource_type} in {self.compartment}"


def explain(
    snapshot: IdentitySnapshot, principal: Principal, compartment: CompartmentRecord, *,
    verb: Verb, resource_type: ResourceType, model: str | None = None, operation: str | None = None,
    region: str | None = None, ip: str | None = None, now: datetime,
) -> Explanation:
    """Evaluate the question exactly as a request would be evaluated, and cite the statements."""
    context = RequestContext(
        principal_type=principal.type, principal_id=principal.id, verb=verb, resource_type=resource_type,
        compartment_path=compartment.path, compartment_ids=compartment.ids,
        user_name=principal.name if principal.type == "user" else None,
        group_ids=principal.group_ids, group_names=principal.group_names,
        operation=operation, model=model, region=region, ip=ip, utc_timestamp=now,
    )
    policies = snapshot.policies
    decision = policies.evaluate(context)
    by_id = {statement.id: statement for statement in policies.statements}
    decided = tuple(_cite(by_id[i]) for i in decision.matched_statement_ids if i in by_id)
    near = () if decision.allowed else tuple(
        _cite(s) for s in _near_misses(policies, context, compartment)
    )
    who = f"{principal.type} {principal.name or principal.id}"
    return Explanation(
        allowed=decision.allowed, principal=who, verb=verb.keyword, resource_type=resource_type.value,
        compartment=f"compartment {compartment.path_text}" if compartment.path else "tenancy",
        decided_by=decided, near_misses=near, errors=decision.errors,
    )


def user_principal(user: UserRecord) -> Principal:
    """The principal a user's requests carry, whichever of their keys they use."""
    return Principal(id=user.id, type="user", name=user.name, group_ids=user.group_ids,
                     group_names=user.group_names, governed=True)


def _cite(statement: Statement) -> CitedStatement:
    return CitedStatement(statement.id, statement.source.strip() or statement.id)


def _near_misses(
    policies: CompiledPolicies, context: RequestContext, compartment: CompartmentRecord
) -> list[Statement]:
    """Statements granting enough on this type at this place, whose subject or condition failed."""
    found = []
    for statement in policies.statements:
        if statement.verb < context.verb or not statement.resource_type.covers(context.resource_type):
            continue
        if _reaches(statement, compartment):
            found.append(statement)
    return found


def _reaches(statement: Statement, compartment: CompartmentRecord) -> bool:
    """Whether the statement's location is the compartment or one of its ancestors."""
    location = statement.location
    if isinstance(location, TenancyLocation):
        return True
    if isinstance(location, CompartmentPath):
        return compartment.path[: len(location.path)] == location.path
    if isinstance(location, CompartmentId):
        return location.id in compartment.ids
    return False
