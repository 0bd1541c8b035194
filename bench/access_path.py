"""Microseconds per request for authentication + authorization, with 1,000 policy statements.

Run: ``.venv/bin/python bench/access_path.py``. Builds a snapshot like a large tenancy's
(100 compartments, 1,000 statements from ``policy_eval.build_statements``, 10,000 keys,
2,000 users in up to 20 of 200 groups each) and times what the gateway does per /v1
request before routing: parse the bearer token, find and verify the key (SHA-256 plus a
constant-time compare), build the principal, pick the target compartment, check the key's
scope and evaluate the policies for every region of the model. Prints the median of many
batches for an allowed and a denied call, and a static-key call as the floor.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tenantgate.iam._compartment_tree import Node
from tenantgate.iam.access_control import AccessControl
from tenantgate.iam.access_snapshot import build_snapshot
from tenantgate.iam.api_keys import mint_secret, new_key_id
from tenantgate.iam.model import ApiKey, SecretSlot, Tenancy
from tenantgate.iam.principal import Caller
from tenantgate.settings import AuthSettings
from tenantgate.storage import Database

sys.path.insert(0, str(Path(__file__).parent))
from policy_eval import DEPARTMENTS, TEAMS, build_statements

NOW = datetime(2025, 3, 5, 12, tzinfo=UTC)
KEYS, USERS, GROUPS = 10_000, 2_000, 200
STATIC_KEY = "static-bench-key"


def build_access(rng: random.Random) -> tuple[AccessControl, str, str]:
    """An AccessControl holding a large snapshot; returns it with an allowed and a denied token."""
    tree = {"cmp_root": Node("cmp_root", None, "acme")}
    for d in range(DEPARTMENTS):
        tree[f"cmp_d{d}"] = Node(f"cmp_d{d}", "cmp_root", f"Dept{d}")
        for t in range(TEAMS):
            tree[f"cmp_d{d}t{t}"] = Node(f"cmp_d{d}t{t}", f"cmp_d{d}", f"Team{t}")
    users = [(f"usr_{i}", f"user{i}") for i in range(USERS)]
    groups = [(f"grp_{i}", f"G{i}") for i in range(GROUPS)]
    memberships = [(f"grp_{g}", f"usr_{u}") for u in range(USERS) for g in rng.sample(range(GROUPS), 20)]
    compartments = list(tree)
    keys, digests, tokens = [], {}, []
    for i in range(KEYS):
        minted = mint_secret(new_key_id(), 1)
        keys.append(ApiKey(f"key_{minted.key_id}", f"k{i}", f"usr_{i % USERS}", None,
                           rng.choice(compartments), None, None, NOW, None,
                           (SecretSlot(1, minted.hint, NOW, None, None, None),)))
        digests[(f"key_{minted.key_id}", 1)] = minted.digest_sha256
        tokens.append(minted.token)
    snapshot = build_snapshot(
        revision=1, tenancy=Tenancy("cmp_root", "acme", "grp_admins", NOW), tree=tree, users=users,
        groups=groups, memberships=memberships, keys=keys, secret_digests=digests,
        statements=build_statements(rng),
    )
    settings = AuthSettings(required=True, api_key_sha256=[hashlib.sha256(STATIC_KEY.encode()).hexdigest()])
    access = AccessControl(settings, Database.open("sqlite+aiosqlite://"), clock=lambda: NOW)
    access.snapshot = snapshot
    allowed = denied = None
    for token in tokens:
        caller = Caller(principal=_principal(access, token), compartment="Dept3:Team4")
        try:
            access.authorize_inference(caller, operation="chat", model="gpt-4o",
                                       regions=["eu-frankfurt-1", "us-ashburn-1"])
            allowed = allowed or token
        except Exception:
            denied = denied or token
        if allowed and denied:
            break
    assert allowed, "the generated policies should allow some users"
    assert denied, "the generated policies should deny some users"
    return access, allowed, denied


def _principal(access: AccessControl, token: str):
    return asyncio.run(access.authenticate(f"Bearer {token}"))


async def one_request(access: AccessControl, header: str) -> bool:
    """What the gateway does per request before routing; True if allowed."""
    principal = await access.authenticate(header)
    if not principal.governed:
        return True
    try:
        access.authorize_inference(Caller(principal, "Dept3:Team4", "10.2.3.4"), operation="chat",
                                   model="gpt-4o", regions=["eu-frankfurt-1", "us-ashburn-1"])
    except Exception:
        return False
    return True


async def median_us(access: AccessControl, header: str, loops: int = 2000, runs: int = 25) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(loops):
            await one_request(access, header)
        samples.append((time.perf_counter() - start) / loops * 1e6)
    return statistics.median(samples)


async def measure(access: AccessControl, allowed: str, denied: str) -> dict[str, float]:
    assert await one_request(access, f"Bearer {allowed}")
    assert not await one_request(access, f"Bearer {denied}")
    return {
        "allowed": await median_us(access, f"Bearer {allowed}"),
        "denied": await median_us(access, f"Bearer {denied}"),
        "static_key": await median_us(access, f"Bearer {STATIC_KEY}"),
    }


def main() -> None:
    access, allowed, denied = build_access(random.Random(7))
    print(f"statements={len(access.snapshot.policies.statements)} keys={len(access.snapshot.keys)} "
          f"compartments={len(access.snapshot.compartments)}")
    figures = asyncio.run(measure(access, allowed, denied))
    print("auth+authz_us_median " + " ".join(f"{name}={value:.2f}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
