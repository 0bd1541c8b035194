"""``/admin/v1/keys``: mint, read, rotate and revoke API keys.

A key lives in its compartment (a service key's owner, a user key's project, else the
tenancy) and is governed by ``… generative-ai-apikey`` there. A user may always act on
their own keys (self-service); a key they mint or rotate that way must be no broader than
the key making the call. Minting or rotating a secret of someone else's user key lets the
caller act as that user, so it also needs ``manage users in tenancy`` (and, for an
administrator's key, being an Administrator). A non-administrator may mint or rotate a
service key only when its ``allowed_models`` are models they may use there themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tenantgate.admin import authorization as rules
from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.schemas import KeyCreate, KeyRotate
from tenantgate.admin.users import is_self, require_administrator_for
from tenantgate.admin.views import key_view, minted_key_view, page
from tenantgate.errors import ApiKeyNotFound, InvalidParameterValue
from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.model import ApiKey, CreatedApiKey, IpNetwork, parse_ip_ranges
from tenantgate.iam.policy_model import ResourceType, Verb

APIKEY = ResourceType.GENERATIVE_AI_APIKEY
_PLACES = (ResourceType.COMPARTMENTS, APIKEY)


async def fetch(call: AdminCall, key_id: str) -> tuple[ApiKey, CompartmentRecord]:
    """The key and the compartment it lives in; a missing key is ``not_found`` like a hidden one."""
    try:
        key = await call.identity.get_api_key(key_id)
    except ApiKeyNotFound:
        raise rules.not_found("key") from None
    return key, call.compartment(rules.key_compartment_id(key, call.root.id), "key")


async def authorized(call: AdminCall, key_id: str, verb: Verb) -> tuple[ApiKey, CompartmentRecord]:
    """The key, when it is the caller's own or policies allow ``verb`` on it (404 if hidden)."""
    key, home = await fetch(call, key_id)
    if rules.owns_key(call.principal, key):
        call.self_service()
    else:
        call.reveal((APIKEY,), home, "key", key.id)
        call.require(verb, APIKEY, home, "key", key.id)
    return key, home


def visible(call: AdminCall, keys: Sequence[ApiKey]) -> list[ApiKey]:
    """The caller's own keys and those where they may ``inspect generative-ai-apikey``."""
    root_id = call.root.id
    return [
        key for key in keys
        if rules.owns_key(call.principal, key)
        or ((home := call.snapshot.compartments.get(rules.key_compartment_id(key, root_id))) is not None
            and call.can(Verb.INSPECT, APIKEY, home))
    ]


def model_offers(call: AdminCall) -> list[rules.ModelOffer]:
    """The catalog's models with their operations and regions, as minting rules read them."""
    return [rules.ModelOffer(entry.name, tuple(op.value for op in entry.operations),
                             tuple(backend.info.region for backend in entry.backends))
            for entry in call.services.catalog.entries()]


def check_service_scope(
    call: AdminCall, home: CompartmentRecord, models: Sequence[str] | None,
    ranges: Sequence[IpNetwork] | None, key_id: str | None,
) -> None:
    """A non-administrator's service key may use only models its minter may use there."""
    if call.is_administrator:
        return
    if not models:
        call.refuse("key_scope", "Set allowed_models: a service key you mint may use only models you "
                    "may use yourself in its compartment.", "key", key_id, home.id, param="allowed_models")
    usable = rules.usable_models(call.snapshot, call.principal, home, model_offers(call),
                                 ip=call.caller.ip, now=call.now)
    beyond = sorted(set(models) - set(usable))
    if beyond:
        call.refuse("key_scope", f"You may not use {', '.join(map(repr, beyond))} in {rules.where(home)} "
                    "yourself, so a key you mint may not either.", "key", key_id, home.id,
                    param="allowed_models")
    _check_narrower(call, models, ranges, key_id, home.id)


def _check_narrower(
    call: AdminCall, models: Sequence[str] | None, ranges: Sequence[IpNetwork] | None,
    key_id: str | None, compartment_id: str,
) -> None:
    field = rules.narrower_than_key(call.principal, models, ranges)
    if field is not None:
        call.refuse("key_scope", f"The key would be broader than the key you are calling with: "
                    f"narrow its {field}.", "key", key_id, compartment_id, param=field)


def _listed(items: Sequence[str] | None) -> list[str] | None:
    return None if items is None else list(items)


def _expiry(call: AdminCall, seconds: int | None) -> datetime | None:
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    if moment <= call.now:
        raise InvalidParameterValue("expires_at must be in the future.", param="expires_at")
    return moment


async def mint_service_key(
    call: AdminCall, *, name: str, compartment_id: str, allowed_models: Sequence[str] | None,
    allowed_ip_ranges: Sequence[str] | None = None, expires_at: int | None = None,
) -> CreatedApiKey:
    """A service key owned by ``compartment_id``; needs ``manage generative-ai-apikey`` there."""
    home = call.compartment(compartment_id)
    call.reveal_place(_PLACES, home)
    call.require(Verb.MANAGE, APIKEY, home, "key", None)
    check_service_scope(call, home, allowed_models, parse_ip_ranges(_listed(allowed_ip_ranges)), None)
    created = await call.identity.create_api_key(
        name, owner_compartment_id=home.id, allowed_models=allowed_models,
        allowed_ip_ranges=allowed_ip_ranges, expires_at=_expiry(call, expires_at))
    await call.changed("key", created.key.id, home.id, owner_compartment_id=home.id,
                       allowed_models=list(allowed_models or ()) or None)
    return created


async def _mint_user_key(call: AdminCall, body: KeyCreate, user_id: str) -> CreatedApiKey:
    home = call.compartment(body.compartment_id) if body.compartment_id is not None else call.root
    if is_self(call, user_id):
        if home.parent_id is not None and not _may_target(call, home):
            call.denied("not_visible", "compartment", home.id, home.id)
            raise rules.not_found("compartment")
        _check_narrower(call, body.allowed_models, parse_ip_ranges(body.allowed_ip_ranges), None, home.id)
        call.self_service()
    else:
        call.require(Verb.MANAGE, ResourceType.USERS, call.root, "key", None)
        if user_id not in call.snapshot.users:
            raise rules.not_found("user")
        require_administrator_for(call, user_id, "key", user_id)
        call.reveal_place(_PLACES, home)
        call.require(Verb.MANAGE, APIKEY, home, "key", None)
    created = await call.identity.create_api_key(
        body.name, owner_user_id=user_id, compartment_id=body.compartment_id,
        allowed_models=body.allowed_models, allowed_ip_ranges=body.allowed_ip_ranges,
        expires_at=_expiry(call, body.expires_at))
    await call.changed("key", created.key.id, home.id, owner_user_id=user_id,
                       allowed_models=body.allowed_models)
    return created


def _may_target(call: AdminCall, home: CompartmentRecord) -> bool:
    """A user's own key may have as project a compartment they can see or use a model in."""
    if any(call.can(Verb.INSPECT, kind, home) for kind in _PLACES):
        return True
    usable = rules.usable_models(call.snapshot, call.principal, home, model_offers(call),
                                 ip=call.caller.ip, now=call.now)
    return bool(usable)


async def revoke(call: AdminCall, key_id: str) -> tuple[ApiKey, CompartmentRecord]:
    """Revoke a key: the caller's own, or with ``manage generative-ai-apikey`` where it lives."""
    key, home = await authorized(call, key_id, Verb.MANAGE)
    revoked = await call.identity.revoke_api_key(key.id)
    await call.changed("key", key.id, home.id)
    return revoked, home


async def list_keys(call: AdminCall) -> Reply:
    """``GET /admin/v1/keys``."""
    keys = visible(call, await call.identity.list_api_keys())
    root_id = call.root.id
    return Reply(200, page([key_view(key, compartment_id=rules.key_compartment_id(key, root_id), now=call.now)
                            for key in keys]))


async def get_key(call: AdminCall) -> Reply:
    """``GET /admin/v1/keys/{id}``."""
    key, home = await authorized(call, call.params["id"], Verb.READ)
    return Reply(200, key_view(key, compartment_id=home.id, now=call.now))


async def create_key(call: AdminCall) -> Reply:
    """``POST /admin/v1/keys``: the response is the only place the token ever appears."""
    body = call.body_as(KeyCreate)
    if body.user_id is not None:
        created = await _mint_user_key(call, body, body.user_id)
    elif body.compartment_id is None:
        raise InvalidParameterValue("A service key needs compartment_id; a user key needs user_id.",
                                    param="compartment_id")
    else:
        created = await mint_service_key(
            call, name=body.name, compartment_id=body.compartment_id, allowed_models=body.allowed_models,
            allowed_ip_ranges=body.allowed_ip_ranges, expires_at=body.expires_at)
    home_id = rules.key_compartment_id(created.key, call.root.id)
    return Reply(201, minted_key_view(created, compartment_id=home_id, now=call.now))


async def rotate_key(call: AdminCall) -> Reply:
    """``POST /admin/v1/keys/{id}/rotate``: mints a secret, shown in this response only."""
    body = call.body_as(KeyRotate)
    key, home = await fetch(call, call.params["id"])
    if rules.owns_key(call.principal, key):
        if key.id != call.principal.key_id:
            _check_narrower(call, key.allowed_models, key.allowed_ip_ranges, key.id, home.id)
        call.self_service()
    else:
        call.reveal((APIKEY,), home, "key", key.id)
        call.require(Verb.MANAGE, APIKEY, home, "key", key.id)
        if key.owner_user_id is not None:
            call.require(Verb.MANAGE, ResourceType.USERS, call.root, "key", key.id)
            require_administrator_for(call, key.owner_user_id, "key", key.id)
        else:
            check_service_scope(call, home, key.allowed_models, key.allowed_ip_ranges, key.id)
    expires_at = _expiry(call, body.expires_at)
    created = await call.identity.rotate_api_key(key.id, slot=body.slot, expires_at=expires_at)
    view = minted_key_view(created, compartment_id=home.id, now=call.now)
    await call.changed("key", key.id, home.id, slot=view.minted_slot)
    return Reply(200, view)


async def revoke_key(call: AdminCall) -> Reply:
    """``DELETE /admin/v1/keys/{id}``: the key stops authenticating on this replica at once."""
    key, home = await revoke(call, call.params["id"])
    return Reply(200, key_view(key, compartment_id=home.id, now=call.now))


async def revoke_secret(call: AdminCall) -> Reply:
    """``POST /admin/v1/keys/{id}/secrets/{slot}/revoke``: the other secret keeps working."""
    key, home = await authorized(call, call.params["id"], Verb.MANAGE)
    slot = {"1": 1, "2": 2}.get(call.params["slot"])
    if slot is None:
        raise InvalidParameterValue("A key's secret slots are 1 and 2.", param="slot")
    revoked = await call.identity.revoke_api_key(key.id, slot=slot)
    await call.changed("key", key.id, home.id, slot=slot)
    return Reply(200, key_view(revoked, compartment_id=home.id, now=call.now))
