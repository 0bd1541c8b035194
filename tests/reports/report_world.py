"""The tenancy, catalog and traffic the report suite runs against (seeded straight into the database).

    tenancy (acme)
    ├── Team          alice's key "alice-team" (with a key budget; the compartment has one too)
    │   └── Sub       bob's key "bob-sub"
    └── Other         alice's key "alice-other", the service key "svc-other"

Readers: the administrator (everything), "reader" (``read credits-family in compartment
Team``: Team and Sub only) and "nobody" (no grant at all). Two commitments: "tiny" holds one
micro-credit and expires first, so the first request that fits it takes it and its overage
lands on ``tg:overage``; "big" pays for everything else, overages included.

Prices are odd on purpose (a cost is rounded up once per request), and ``chat-cheap`` holds
only one output token (``default_max_output_tokens``) while the fake upstream answers with
more, so its requests without ``max_tokens`` always cost more than their hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from tenantgate.credits.accounts import OVERAGE, Period, TransferCode
from tenantgate.credits.commitments import CommitmentKind
from tenantgate.credits.store import CreditStore
from tenantgate.credits.usage_table import usage_records
from tenantgate.iam.store import IdentityStore
from tenantgate.ledger import LedgerStore, TransferFlags
from tenantgate.ledger.model import TransferRecord
from tenantgate.storage import Database
from tenantgate.testing import FakeUpstream
from tenantgate.testing.database_access import rows_of, run_on

T = TypeVar("T")
UPSTREAM_KEY = "sk-reports"
UPSTREAM_KEY_ENV = "TG_REPORTS_UPSTREAM_KEY"
PRICES = {  # credits per 1M tokens: input, output
    "chat-pro": ("2.5", "10"),
    "chat-cheap": ("0", "1"),
    "chat-nousage": ("1.3", "7.7"),
    "chat-broken": ("1", "1"),
    "embed": ("0.13", "0"),
}
UPSTREAM_MODELS = {"chat-pro": "gpt-4o-mini", "chat-cheap": "gpt-4o-mini", "chat-nousage": "fault-missing-usage",
                   "chat-broken": "fault-503", "embed": "text-embedding-3-small"}


@dataclass
class World:
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        return run_on(self.url, work)

    def ledger(self, work: Callable[[LedgerStore], Awaitable[T]]) -> T:
        return self.run(lambda db: work(LedgerStore(db, clock=lambda: datetime.now(UTC))))

    @property
    def paying_accounts(self) -> list[str]:
        """Every account a request's cost is debited from: the commitments and ``tg:overage``."""
        return [f"cmt:{self.ids['tiny']}", f"cmt:{self.ids['big']}", OVERAGE]

    def debits_posted(self) -> dict[str, int]:
        found = self.ledger(lambda ledger: ledger.lookup_accounts(self.paying_accounts))
        return {record.id: record.balance.debits_posted for record in found}

    def billed_records(self) -> list[Any]:
        """The usage records of charged requests, oldest booking first (not by the report's query)."""
        query = sa.select(usage_records).where(usage_records.c.status == "billed").order_by(
            usage_records.c.booked_at, usage_records.c.id)
        return rows_of(self.url, query)

    def overage_transfers(self) -> list[TransferRecord]:
        return [r for r in self.usage_transfers() if r.transfer.code == TransferCode.OVERAGE]

    def usage_transfers(self) -> list[TransferRecord]:
        """The commitment-side settlement transfers, read account by account (not by the report's query)."""
        async def work(ledger: LedgerStore) -> list[TransferRecord]:
            found: list[TransferRecord] = []
            for account in self.paying_accounts:
                for record in await ledger.get_account_transfers(account, limit=10_000):
                    t = record.transfer
                    if t.debit_account_id == account and (
                            t.flags & TransferFlags.POST_PENDING_TRANSFER or t.code == TransferCode.OVERAGE):
                        found.append(record)
            return sorted(found, key=lambda r: (r.timestamp, r.transfer.id))

        return self.ledger(work)




def gateway_config(world: World, fake: FakeUpstream) -> dict[str, Any]:
    def model(name: str) -> dict[str, Any]:
        return {"name": name, "deployments": [{
            "provider": "openai", "base_url": fake.openai_base_url, "model": UPSTREAM_MODELS[name],
            "credential_env": UPSTREAM_KEY_ENV, "region": "eu-test-1"}]}

    rates = [{"model": name, "input_per_1m": i, "output_per_1m": o} for name, (i, o) in PRICES.items()]
    return {
        "storage": {"url": world.url},
        "models": [model(name) for name in PRICES],
        "local": {"enabled": False},
        "credits": {"enabled": True, "rate_card": rates, "commit_linger_ms": 2,
                    "default_max_output_tokens": 1},
        "logging": {"access_log": False, "level": "WARNING"},
        "auth": {"refresh_interval_ms": 60_000},
    }


def seed(url: str) -> World:
    world = World(url)
    world.run(lambda db: _seed(db, world))
    return world


async def _seed(db: Database, world: World) -> None:
    now = datetime.now(UTC)
    iam = IdentityStore(db, clock=lambda: datetime.now(UTC))
    tenancy = await iam.create_tenancy("acme")
    world.ids["root"] = tenancy.id
    team = await iam.create_compartment("Team", parent_id=tenancy.id)
    sub = await iam.create_compartment("Sub", parent_id=team.id)
    other = await iam.create_compartment("Other", parent_id=tenancy.id)
    world.ids.update(Team=team.id, Sub=sub.id, Other=other.id)
    users = await iam.create_group("Users")
    readers = await iam.create_group("TeamReaders")
    for name, group in (("alice", users), ("bob", users), ("reader", readers), ("nobody", None)):
        user = await iam.create_user(name)
        world.ids[name] = user.id
        if group is not None:
            await iam.add_member(group.id, user.id)
        made = await iam.create_api_key(f"{name}-own", owner_user_id=user.id)
        world.tokens[name] = made.token
    await iam.save_policy("use", "Allow group Users to use generative-ai-family in tenancy\n"
                          "Allow any-user to use generative-ai-family in compartment Other", compartment_id=tenancy.id)
    await iam.save_policy("read-team", "Allow group TeamReaders to read credits-family in compartment Team",
                          compartment_id=tenancy.id)
    admin = await iam.ensure_administrator("admin")
    world.tokens["admin"] = (await iam.create_api_key("admin", owner_user_id=admin.id)).token
    for label, owner, target in (("alice-team", "alice", team), ("alice-other", "alice", other),
                                 ("bob-sub", "bob", sub)):
        made = await iam.create_api_key(label, owner_user_id=world.ids[owner], compartment_id=target.id)
        world.tokens[label], world.ids[label] = made.token, made.key.id
    service = await iam.create_api_key("svc-other", owner_compartment_id=other.id)
    world.tokens["svc-other"], world.ids["svc-other"] = service.token, service.key.id
    credits = CreditStore(db, clock=lambda: datetime.now(UTC))
    await credits.ensure_system_accounts()
    for name, amount, days in (("tiny", 1, 2), ("big", 10**12, 365)):
        made_commitment = await credits.add_commitment(
            name=name, kind=CommitmentKind.ANNUAL, amount=amount, starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=days))
        world.ids[name] = made_commitment.id
    await credits.set_budget(scope_type="key", scope_id=world.ids["alice-team"], period=Period.MONTHLY,
                             limit=10**9, name="alice-team")
    await credits.set_budget(scope_type="compartment", scope_id=team.id, period=Period.MONTHLY,
                             limit=10**9, hard=False, name="team")


@dataclass(frozen=True)
class Traffic:
    """What ``drive`` sent: the answers' statuses and the second that splits its two phases."""

    statuses: list[int]
    split_s: int
    start_s: int
    end_s: int
    debits_before: dict[str, int]


def _body(model: str, *, max_tokens: int | None = 5, stream: bool = False, usage: bool = False,
          text: str = "how much does this cost") -> dict[str, Any]:
    if model == "embed":
        return {"model": model, "input": text}
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if usage:
        body["stream_options"] = {"include_usage": True}
    return body


PHASE_A = [  # (key, model, body options)
    ("alice-team", "chat-cheap", {"max_tokens": None}),  # tiny holds it; its overage goes to tg:overage
    ("bob-sub", "chat-cheap", {"max_tokens": None, "text": "a longer question than the first one"}),
    ("alice-team", "chat-pro", {}),
    ("alice-team", "chat-pro", {"text": "another"}),
    ("svc-other", "chat-pro", {}),
    ("alice-team", "embed", {}),
    ("alice-team", "chat-broken", {}),  # 503: released, never charged
]
PHASE_B = [
    ("alice-other", "chat-pro", {"max_tokens": 7}),
    ("alice-other", "chat-pro", {"max_tokens": 7, "text": "one two three four five six seven eight"}),
    ("bob-sub", "chat-pro", {"max_tokens": 7}),
    ("bob-sub", "chat-pro", {"max_tokens": 3}),
    ("alice-team", "chat-pro", {"stream": True, "usage": True}),
    ("alice-other", "chat-nousage", {"stream": True}),  # no usage from upstream: estimated
    ("svc-other", "embed", {"text": "embed me please"}),
    ("bob-sub", "embed", {}),
]
ADMITTED = 6 + 8
EMBEDDINGS = 3


def send(client: Any, base_url: str, world: World, plan: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    statuses = []
    for key, model, options in plan:
        path = "/v1/embeddings" if model == "embed" else "/v1/chat/completions"
        answer = client.post(f"{base_url}{path}", json=_body(model, **options),
                             headers={"authorization": f"Bearer {world.tokens[key]}"})
        statuses.append(answer.status_code)
    return statuses
