"""The pure admin rules: admission, hiding, key narrowing and the models a minter may grant."""

import ipaddress
from datetime import UTC, datetime

import pytest

from tenantgate.admin import authorization as rules
from tenantgate.errors import ApiKeyNotFound, CompartmentNotFound, GroupNotFound, PolicyNotFound, UserNotFound
from tenantgate.iam._compartment_tree import Node
from tenantgate.iam.access_snapshot import EMPTY_SNAPSHOT, build_snapshot
from tenantgate.iam.model import Tenancy
from tenantgate.iam.policy_parser import parse_policy
from tenantgate.iam.principal import ANONYMOUS, Principal

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
TENANCY = Tenancy("cmp_root", "acme", "grp_admins", NOW)
OFFERS = [rules.ModelOffer("chat-a", ("chat",), ("eu-frankfurt-1",)),
          rules.ModelOffer("chat-b", ("chat", "completion"), ("us-chicago-1", "eu-frankfurt-1")),
          rules.ModelOffer("embed-a", ("embedding",), (None,))]


def _snapshot(policy: str):
    tree = {"cmp_root": Node("cmp_root", None, "acme"), "cmp_a": Node("cmp_a", "cmp_root", "A")}
    return build_snapshot(
        revision=1, tenancy=TENANCY, tree=tree, users=[("usr_ann", "ann")], groups=[("grp_eng", "eng")],
        memberships=[("grp_eng", "usr_ann")], keys=[], secret_digests={},
        statements=parse_policy(policy, policy_id="pol_1", attached_to=()),
    )


def _ann(**scope) -> Principal:
    return Principal(id="usr_ann", type="user", name="ann", key_id="key_x", group_ids=frozenset({"grp_eng"}),
                     group_names=frozenset({"eng"}), governed=True, **scope)


def test_admission_needs_a_tenancy_and_a_governed_principal():
    assert "tenantgate init" in rules.admission_error(EMPTY_SNAPSHOT, _ann()).message
    snapshot = _snapshot("Allow group eng to inspect compartments in tenancy")
    assert "identity API key" in rules.admission_error(snapshot, ANONYMOUS).message
    assert "identity API key" in rules.admission_error(snapshot, Principal("static-1", "static-key")).message
    assert rules.admission_error(snapshot, _ann()) is None


@pytest.mark.parametrize(("kind", "error"), [
    ("compartment", CompartmentNotFound), ("project", CompartmentNotFound), ("user", UserNotFound),
    ("group", GroupNotFound), ("policy", PolicyNotFound), ("key", ApiKeyNotFound)])
def test_hidden_and_missing_share_one_error_body(kind, error):
    assert rules.not_found(kind).to_body() == error().to_body() == rules.not_found(kind).to_body()


def test_an_unrestricted_key_may_mint_anything_a_restricted_one_only_narrower():
    assert rules.narrower_than_key(_ann(), None, None) is None
    restricted = _ann(allowed_models=frozenset({"chat-a", "chat-b"}),
                      allowed_ip_ranges=(ipaddress.ip_network("10.0.0.0/8"),))
    net = ipaddress.ip_network
    assert rules.narrower_than_key(restricted, ["chat-a"], [net("10.1.0.0/16")]) is None
    assert rules.narrower_than_key(restricted, None, [net("10.1.0.0/16")]) == "allowed_models"
    assert rules.narrower_than_key(restricted, ["chat-a", "embed-a"], [net("10.1.0.0/16")]) == "allowed_models"
    assert rules.narrower_than_key(restricted, ["chat-a"], None) == "allowed_ip_ranges"
    assert rules.narrower_than_key(restricted, ["chat-a"], [net("0.0.0.0/0")]) == "allowed_ip_ranges"
    assert rules.narrower_than_key(restricted, ["chat-a"], [net("::/0")]) == "allowed_ip_ranges"


def test_usable_models_follow_policies_conditions_regions_and_the_key():
    snapshot = _snapshot(
        "Allow group eng to use generative-ai-chat in compartment A where request.region = 'us-chicago-1'\n"
        "Allow group eng to use generative-ai-embedding in tenancy\n"
    )
    a = snapshot.compartments["cmp_a"]
    assert rules.usable_models(snapshot, _ann(), a, OFFERS, ip=None, now=NOW) == ["chat-b", "embed-a"]
    narrowed = _ann(allowed_models=frozenset({"embed-a"}))
    assert rules.usable_models(snapshot, narrowed, a, OFFERS, ip=None, now=NOW) == ["embed-a"]
    root = snapshot.compartments["cmp_root"]
    assert rules.usable_models(snapshot, _ann(), root, OFFERS, ip=None, now=NOW) == ["embed-a"]


def test_administrators_and_where_things_are_managed():
    snapshot = _snapshot("Allow group eng to inspect compartments in tenancy")
    assert not rules.is_administrator(snapshot, _ann())
    admin = Principal("usr_root", "user", governed=True, group_ids=frozenset({"grp_admins"}))
    assert rules.is_administrator(snapshot, admin)
    root, a = snapshot.compartments["cmp_root"], snapshot.compartments["cmp_a"]
    assert rules.manager_of(snapshot, a) == root
    assert rules.manager_of(snapshot, root) == root
    assert (rules.where(root), rules.where(a)) == ("tenancy", "compartment A")


def test_the_current_principal_is_reread_from_the_snapshot():
    snapshot = _snapshot("Allow group eng to inspect compartments in tenancy")
    assert rules.current_principal(snapshot, _ann()) is None  # its key is not in this snapshot
