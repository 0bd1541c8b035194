"""The pure access rules over a hand-built snapshot: key authentication, target compartments,
key scopes, per-region decisions and explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenantgate.errors import ExpiredApiKey, InvalidApiKey, PermissionDenied
from tenantgate.iam import inference_access as rules
from tenantgate.iam._compartment_tree import Node
from tenantgate.iam.access_snapshot import ADMINISTRATORS_STATEMENT_ID, IdentitySnapshot, build_snapshot
from tenantgate.iam.api_keys import mint_secret, parse_presented
from tenantgate.iam.explain import explain, user_principal
from tenantgate.iam.key_authentication import UnknownKeyId, authenticate_key
from tenantgate.iam.model import ApiKey, SecretSlot, Tenancy, parse_ip_ranges
from tenantgate.iam.policy_model import ResourceType, Verb
from tenantgate.iam.policy_parser import parse_policy

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
TREE = {
    "cmp_root": Node("cmp_root", None, "acme"),
    "cmp_fin": Node("cmp_fin", "cmp_root", "Finance"),
    "cmp_risk": Node("cmp_risk", "cmp_fin", "Risk"),
    "cmp_mkt": Node("cmp_mkt", "cmp_root", "Marketing"),
}
POLICY = """
Allow group Analysts to use generative-ai-chat in compartment Finance where request.model = 'gpt-4o'
Allow group Analysts to use generative-ai-chat in compartment Finance where request.region = 'eu-frankfurt-1'
"""


def _key(key_id: str, *, user: str | None = "usr_alice", compartment: str | None = None,
         slots: tuple[SecretSlot, ...] = (), revoked: bool = False, models=None, ranges=None) -> ApiKey:
    return ApiKey(f"key_{key_id}", "k", user, None if user else compartment, compartment,
                  models, parse_ip_ranges(ranges), NOW, NOW if revoked else None, slots)


def _slot(number: int, *, expires_at=None, revoked=False) -> SecretSlot:
    return SecretSlot(number, "hint", NOW, expires_at, NOW if revoked else None, None)


def world(**key_options) -> tuple[IdentitySnapshot, dict[str, str]]:
    tokens: dict[str, str] = {}
    digests: dict[tuple[str, int], str] = {}
    keys = []
    specs = {
        "aaaaaaaaaaaa": {"compartment": "cmp_fin", "slots": (_slot(1), _slot(2, revoked=True))},
        "bbbbbbbbbbbb": {"compartment": None, "slots": (_slot(1, expires_at=NOW),)},
        "cccccccccccc": {"user": None, "compartment": "cmp_risk", "slots": (_slot(1),)},
        "dddddddddddd": {"compartment": "cmp_fin", "slots": (_slot(1),), "revoked": True},
        "eeeeeeeeeeee": {"user": "usr_gone", "slots": (_slot(1),)},
        **key_options,
    }
    for key_id, options in specs.items():
        options.setdefault("slots", (_slot(1),))
        for slot in options["slots"]:
            minted = mint_secret(key_id, slot.slot)
            tokens[f"{key_id}{slot.slot}"] = minted.token
            digests[(f"key_{key_id}", slot.slot)] = minted.digest_sha256
        keys.append(_key(key_id, **options))
    snapshot = build_snapshot(
        revision=7, tenancy=Tenancy("cmp_root", "acme", "grp_admins", NOW), tree=TREE,
        users=[("usr_alice", "alice"), ("usr_root", "root")],
        groups=[("grp_analysts", "Analysts"), ("grp_admins", "Administrators")],
        memberships=[("grp_analysts", "usr_alice"), ("grp_admins", "usr_root")],
        keys=keys, secret_digests=digests,
        statements=parse_policy(POLICY, policy_id="pol_a", attached_to=()),
    )
    return snapshot, tokens


def auth(snapshot, token, now=NOW):
    return authenticate_key(snapshot, parse_presented(token), now)


# Snapshot


def test_compartments_carry_paths_and_ids_below_the_root():
    snapshot, _ = world()
    risk = snapshot.compartments["cmp_risk"]
    assert (risk.path, risk.ids, risk.path_text) == (("Finance", "Risk"), ("cmp_fin", "cmp_risk"), "Finance:Risk")
    assert snapshot.find_compartment("Finance:Risk") is risk
    assert snapshot.find_compartment("cmp_risk") is risk
    assert snapshot.find_compartment("Finance:Nope") is None
    assert snapshot.find_compartment("bad:name\x00") is None
    assert snapshot.root is snapshot.compartments["cmp_root"]


def test_the_administrators_grant_is_built_in():
    snapshot, _ = world()
    assert snapshot.policies.statements[0].id == ADMINISTRATORS_STATEMENT_ID


# Key authentication


def test_a_user_key_acts_as_its_user_in_the_keys_compartment():
    snapshot, tokens = world()
    principal, record = auth(snapshot, tokens["aaaaaaaaaaaa1"])
    assert (principal.type, principal.id, principal.group_names) == ("user", "usr_alice", {"Analysts"})
    assert principal.home_compartment_id == "cmp_fin" == record.compartment_id


def test_a_user_key_without_a_project_targets_the_tenancy_and_a_service_key_its_owner():
    snapshot, tokens = world(bbbbbbbbbbbb={"compartment": None, "slots": (_slot(1),)})
    assert auth(snapshot, tokens["bbbbbbbbbbbb1"])[0].home_compartment_id == "cmp_root"
    service, _ = auth(snapshot, tokens["cccccccccccc1"])
    assert (service.type, service.id, service.home_compartment_id) == ("apikey", "key_cccccccccccc", "cmp_risk")


@pytest.mark.parametrize(("token", "error"), [
    ("aaaaaaaaaaaa2", InvalidApiKey),  # that slot's secret is revoked
    ("dddddddddddd1", InvalidApiKey),  # the whole key is revoked
    ("eeeeeeeeeeee1", InvalidApiKey),  # its user no longer exists
    ("bbbbbbbbbbbb1", ExpiredApiKey),  # expired exactly now
])
def test_unusable_secrets_are_refused(token, error):
    snapshot, tokens = world()
    with pytest.raises(error):
        auth(snapshot, tokens[token])


def test_a_wrong_secret_or_an_unminted_slot_is_invalid_and_an_unknown_id_asks_for_a_refresh():
    snapshot, tokens = world()
    good = tokens["aaaaaaaaaaaa1"]
    with pytest.raises(InvalidApiKey):
        auth(snapshot, good[:-1] + ("A" if good[-1] != "A" else "B"))
    with pytest.raises(InvalidApiKey):
        auth(snapshot, tokens["cccccccccccc1"].replace("cccccccccccc1", "cccccccccccc2"))
    with pytest.raises(UnknownKeyId):
        auth(snapshot, mint_secret("zzzzzzzzzzzz", 1).token)


# Inference rules


def test_the_header_picks_the_compartment_by_path_or_id_else_the_keys_own():
    snapshot, tokens = world()
    principal, _ = auth(snapshot, tokens["aaaaaaaaaaaa1"])
    assert rules.target_compartment(snapshot, principal, None).id == "cmp_fin"
    assert rules.target_compartment(snapshot, principal, "Marketing").id == "cmp_mkt"
    assert rules.target_compartment(snapshot, principal, "cmp_risk").id == "cmp_risk"
    assert rules.target_compartment(snapshot, principal, "Nowhere") is None


def test_a_keys_scope_narrows_models_and_networks():
    snapshot, tokens = world(aaaaaaaaaaaa={"compartment": "cmp_fin", "models": ("gpt-4o",),
                                           "ranges": ["10.0.0.0/8", "2001:db8::/32"]})
    principal, _ = auth(snapshot, tokens["aaaaaaaaaaaa1"])
    rules.check_key_scope(principal, "gpt-4o", "10.1.2.3")
    rules.check_key_scope(principal, "gpt-4o", "2001:db8::1")
    for model, ip in (("o3", "10.1.2.3"), ("gpt-4o", "192.168.0.1"), ("gpt-4o", None), ("gpt-4o", "x")):
        with pytest.raises(PermissionDenied):
            rules.check_key_scope(principal, model, ip)


def test_regions_are_decided_one_by_one():
    snapshot, tokens = world()
    principal, _ = auth(snapshot, tokens["aaaaaaaaaaaa1"])
    finance = snapshot.compartments["cmp_fin"]
    grant, _ = rules.decide_inference(snapshot, principal, finance, operation="chat", model="o3",
                                      regions=["us-ashburn-1", "eu-frankfurt-1", None], ip=None, now=NOW)
    assert grant is not None
    assert grant.regions == {"eu-frankfurt-1"}
    assert grant.statement_ids == ("pol_a#2",)
    grant, _ = rules.decide_inference(snapshot, principal, finance, operation="chat", model="gpt-4o",
                                      regions=["us-ashburn-1", "eu-frankfurt-1"], ip=None, now=NOW)
    assert grant is not None
    assert grant.regions == {"us-ashburn-1", "eu-frankfurt-1"}
    denied, _ = rules.decide_inference(snapshot, principal, finance, operation="embedding", model="gpt-4o",
                                       regions=["us-ashburn-1"], ip=None, now=NOW)
    assert denied is None


def test_a_grant_on_a_parent_reaches_children_never_siblings():
    snapshot, tokens = world()
    principal, _ = auth(snapshot, tokens["aaaaaaaaaaaa1"])
    decide = lambda cid: rules.decide_inference(  # noqa: E731
        snapshot, principal, snapshot.compartments[cid], operation="chat", model="gpt-4o",
        regions=[None], ip=None, now=NOW)[0]
    assert decide("cmp_fin") is not None
    assert decide("cmp_risk") is not None
    assert decide("cmp_mkt") is None
    assert decide("cmp_root") is None


def test_a_denial_names_the_place_as_the_caller_did():
    snapshot, _ = world()
    finance = snapshot.compartments["cmp_fin"]
    assert rules.place_of(finance, None) == "compartment Finance"
    assert rules.place_of(None, "Nowhere") == rules.place_of(finance, "Nowhere") == "compartment Nowhere"
    assert rules.place_of(snapshot.root, None) == "the tenancy"


# Explain


def test_explain_cites_deciding_statements_and_near_misses():
    snapshot, _ = world()
    alice = user_principal(snapshot.users["usr_alice"])
    finance = snapshot.compartments["cmp_fin"]
    allowed = explain(snapshot, alice, finance, verb=Verb.USE, resource_type=ResourceType.GENERATIVE_AI_CHAT,
                      model="gpt-4o", operation="chat", now=NOW)
    assert allowed.allowed
    assert [s.id for s in allowed.decided_by] == ["pol_a#1"]
    assert allowed.summary() == "ALLOWED: user alice to use generative-ai-chat in compartment Finance"
    denied = explain(snapshot, alice, finance, verb=Verb.USE, resource_type=ResourceType.GENERATIVE_AI_CHAT,
                     model="o3", operation="chat", now=NOW)
    assert not denied.allowed
    assert [s.id for s in denied.near_misses] == [ADMINISTRATORS_STATEMENT_ID, "pol_a#1", "pol_a#2"]
    manage = explain(snapshot, alice, finance, verb=Verb.MANAGE, resource_type=ResourceType.GENERATIVE_AI_CHAT,
                     model="gpt-4o", now=NOW)
    assert not manage.allowed
    assert [s.id for s in manage.near_misses] == [ADMINISTRATORS_STATEMENT_ID]
    root = user_principal(snapshot.users["usr_root"])
    assert explain(snapshot, root, finance, verb=Verb.MANAGE, resource_type=ResourceType.POLICIES,
                   now=NOW + timedelta(days=1)).allowed
