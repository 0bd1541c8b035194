"""Microseconds per policy decision with 1,000 statements across ~100 compartments.

Run: ``.venv/bin/python bench/policy_eval.py``. Prints the median of many timed batches
for an allowed request (a member of every group, so every statement on the target's
path runs its subject and condition checks) and a denied one.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime

from tenantgate.iam.policy_evaluator import CompiledPolicies, RequestContext
from tenantgate.iam.policy_model import ResourceType, Statement, Verb
from tenantgate.iam.policy_parser import parse_policy

STATEMENTS = 1000
DEPARTMENTS = 10
TEAMS = 9  # 10 departments + 90 teams = 100 compartments
VERBS = ["inspect", "read", "use", "manage"]
TYPES = [
    "generative-ai-family",
    "generative-ai-chat",
    "generative-ai-embedding",
    "generative-ai-model",
    "users",
]
CONDITIONS = [
    "",
    " where request.model = /gpt-*/",
    " where request.region in ('eu-frankfurt-1', 'us-ashburn-1')",
    " where all {request.principal.type = 'apikey', request.ip = '10.0.0.0/8'}",
    " where request.utc-timestamp.time-of-day between '06:00:00Z' and '22:00:00Z'",
]


def build_statements(rng: random.Random) -> list[Statement]:
    """Realistic mix: one policy per compartment, ten statements each, various groups."""
    statements: list[Statement] = []
    per_policy = STATEMENTS // (DEPARTMENTS * (TEAMS + 1))
    for d in range(DEPARTMENTS):
        for t in range(TEAMS + 1):
            attached = (f"Dept{d}",) if t == TEAMS else (f"Dept{d}", f"Team{t}")
            lines = [
                f"Allow group G{rng.randrange(200)} to {rng.choice(VERBS)} {rng.choice(TYPES)} "
                f"in compartment {attached[-1]}{rng.choice(CONDITIONS)}"
                for _ in range(per_policy)
            ]
            statements += parse_policy("\n".join(lines), policy_id=f"pol-{d}-{t}", attached_to=attached)
    return statements


def median_us(
    policies: CompiledPolicies, context: RequestContext, loops: int = 2000, runs: int = 25
) -> float:
    """Median over ``runs`` batches of the mean time of one evaluate()."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(loops):
            policies.evaluate(context)
        samples.append((time.perf_counter() - start) / loops * 1e6)
    return statistics.median(samples)


def main() -> None:
    rng = random.Random(7)
    statements = build_statements(rng)
    start = time.perf_counter()
    policies = CompiledPolicies(statements)
    compile_ms = (time.perf_counter() - start) * 1e3
    groups = frozenset(f"G{i}" for i in range(200))  # worst case: in every group
    base = RequestContext(
        principal_type="apikey",
        principal_id="key-1",
        verb=Verb.USE,
        resource_type=ResourceType.GENERATIVE_AI_CHAT,
        compartment_path=("Dept3", "Team4"),
        group_names=groups,
        model="gpt-4o",
        region="eu-frankfurt-1",
        ip="10.2.3.4",
        utc_timestamp=datetime(2025, 3, 5, 12, tzinfo=UTC),
    )
    denied = RequestContext(
        principal_type="user",
        principal_id="u-9",
        verb=Verb.MANAGE,
        resource_type=ResourceType.POLICIES,
        compartment_path=("Dept3", "Team4"),
        group_names=frozenset({"nobody"}),
    )
    decision = policies.evaluate(base)
    print(f"statements={len(statements)} compile_ms={compile_ms:.1f}")
    print(f"allowed={decision.allowed} matched={len(decision.matched_statement_ids)}")
    print(
        f"evaluate_us_median allowed={median_us(policies, base):.2f} denied={median_us(policies, denied):.2f}"
    )


if __name__ == "__main__":
    main()
