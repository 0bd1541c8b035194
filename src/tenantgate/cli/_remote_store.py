"""``RemoteIdentityStore``: the IAM commands' store methods, answered by a gateway's admin API.

It offers exactly what the commands call on ``IdentityStore`` (``IdentityCommands``), with
the same signatures, results and errors, so a command cannot tell which one it runs on.
What the API does not offer directly is composed from what it does: lookups by name or
path list and pick (with the local store's messages), and ``list_groups(member_id=…)``
reads each group's members once per command. The server decides what the key may see and
do; nothing here second-guesses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tenantgate.cli import _admin_json as wire
from tenantgate.cli._admin_client import AdminClient, quote
from tenantgate.errors import (
    CompartmentNotFound,
    GroupNotFound,
    InvalidApiKey,
    InvalidParameterValue,
    PermissionDenied,
    UserNotFound,
)
from tenantgate.iam.api_keys import parse_presented
from tenantgate.iam.explain import Explanation
from tenantgate.iam.model import ApiKey, Compartment, CreatedApiKey, Group, Policy, User, parse_path

_A = "/admin/v1"


def _unix(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


class RemoteIdentityStore:
    """The identity store of the gateway at ``base_url``, as the holder of ``token`` sees it."""

    def __init__(self, base_url: str, token: str) -> None:
        self._client = AdminClient(base_url, token)
        self._memberships: dict[str, list[User]] | None = None

    def __repr__(self) -> str:
        return f"RemoteIdentityStore({self._client.base_url!r})"

    async def _get(self, path: str) -> Any:
        return await self._client.call("GET", _A + path)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self._memberships = None  # a change may move users between groups
        return await self._client.call(method, _A + path, body)

    # Compartments

    async def list_compartments(self) -> list[Compartment]:
        """Every compartment the key may inspect, the root first, then by path."""
        return wire.listed(wire.compartment, await self._get("/compartments"))

    async def resolve_compartment(self, path: str) -> Compartment:
        """The compartment at ``"A:B:C"`` (``""`` is the root); CompartmentNotFound otherwise."""
        names = parse_path(path)
        found = next((c for c in await self.list_compartments() if c.path == names), None)
        if found is not None:
            return found
        if not names:  # the tenancy exists, but is listed only to keys that may inspect it
            raise PermissionDenied("You are not allowed to do this: addressing the tenancy needs "
                                   "'inspect compartments' in tenancy.", param="compartment")
        raise CompartmentNotFound(f"No compartment at path {path!r}.", param="compartment")

    async def create_compartment(self, name: str, *, parent_id: str, description: str = "") -> Compartment:
        """A new compartment under ``parent_id``."""
        body = {"name": name, "parent_id": parent_id, "description": description}
        return wire.decoded(wire.compartment, await self._send("POST", "/compartments", body))

    async def move_compartment(self, compartment_id: str, *, new_parent_id: str) -> Compartment:
        """Move a compartment (and its subtree) under another."""
        answer = await self._send("POST", f"/compartments/{quote(compartment_id)}/move",
                                  {"parent_id": new_parent_id})
        return wire.decoded(wire.compartment, answer)

    async def delete_compartment(self, compartment_id: str) -> None:
        """Delete an empty compartment."""
        await self._send("DELETE", f"/compartments/{quote(compartment_id)}")

    # Users and groups

    async def create_user(self, name: str, *, description: str = "") -> User:
        """A new user."""
        return wire.decoded(wire.user, await self._send("POST", "/users",
                                                        {"name": name, "description": description}))

    async def list_users(self) -> list[User]:
        """Every user, by name (needs ``inspect users in tenancy``)."""
        return wire.listed(wire.user, await self._get("/users"))

    async def find_user(self, name: str) -> User:
        """The user called ``name``.

        A key that may not list users can still name its own user (to mint itself a key).
        """
        try:
            users = await self.list_users()
        except PermissionDenied:
            me = await self._caller()
            if me is None or me.name != name:
                raise
            return me
        found = next((u for u in users if u.name == name), None)
        if found is None:
            raise UserNotFound(f"No user named {name!r}.", param="name")
        return found

    async def _caller(self) -> User | None:
        """The user the calling key belongs to (anyone may read their own key and user)."""
        try:
            key_id = "key_" + parse_presented(self._client.token).key_id
            key = wire.decoded(wire.api_key, await self._get(f"/keys/{quote(key_id)}"))
        except InvalidApiKey:
            return None
        if key.owner_user_id is None:
            return None
        return wire.decoded(wire.user, await self._get(f"/users/{quote(key.owner_user_id)}"))

    async def create_group(self, name: str, *, description: str = "") -> Group:
        """A new group."""
        return wire.decoded(wire.group, await self._send("POST", "/groups",
                                                         {"name": name, "description": description}))

    async def find_group(self, name: str) -> Group:
        """The group called ``name``."""
        found = next((g for g in await self.list_groups() if g.name == name), None)
        if found is None:
            raise GroupNotFound(f"No group named {name!r}.", param="name")
        return found

    async def list_groups(self, *, member_id: str | None = None) -> list[Group]:
        """Every group by name, or only those ``member_id`` belongs to."""
        groups = wire.listed(wire.group, await self._get("/groups"))
        if member_id is None:
            return groups
        if self._memberships is None:
            self._memberships = {g.id: await self.list_members(g.id) for g in groups}
        return [g for g in groups if any(u.id == member_id for u in self._memberships.get(g.id, ()))]

    async def list_members(self, group_id: str) -> list[User]:
        """The users in a group, by name."""
        return wire.listed(wire.user, await self._get(f"/groups/{quote(group_id)}/members"))

    async def add_member(self, group_id: str, user_id: str) -> None:
        """Put a user in a group; adding an existing member changes nothing."""
        await self._send("PUT", f"/groups/{quote(group_id)}/members/{quote(user_id)}")

    async def remove_member(self, group_id: str, user_id: str) -> None:
        """Take a user out of a group."""
        await self._send("DELETE", f"/groups/{quote(group_id)}/members/{quote(user_id)}")

    # Policies

    async def list_policies(self) -> list[Policy]:
        """Every policy the key may inspect, by compartment path then name."""
        return wire.listed(wire.policy, await self._get("/policies"))

    async def find_policy(self, name: str, *, compartment_id: str) -> Policy | None:
        """The policy called ``name`` in a compartment, or None."""
        return next((p for p in await self.list_policies()
                     if p.name == name and p.compartment_id == compartment_id), None)

    async def save_policy(
        self, name: str, text: str, *, compartment_id: str, description: str = "",
        policy_id: str | None = None,
    ) -> Policy:
        """Create the policy, or replace ``policy_id``; the server parses it (PolicySyntaxError)."""
        body = {"name": name, "text": text, "compartment_id": compartment_id, "description": description}
        if policy_id is None:
            return wire.decoded(wire.policy, await self._send("POST", "/policies", body))
        return wire.decoded(wire.policy, await self._send("PUT", f"/policies/{quote(policy_id)}", body))

    async def explain(self, question: dict[str, Any]) -> Explanation:
        """``POST /admin/v1/policies/explain`` with a ``PolicyExplain`` body."""
        return wire.decoded(wire.explanation, await self._send("POST", "/policies/explain", question))

    # API keys

    async def create_api_key(
        self, name: str, *, owner_user_id: str | None = None, owner_compartment_id: str | None = None,
        allowed_models: Sequence[str] | None = None, allowed_ip_ranges: Sequence[str] | None = None,
        expires_at: datetime | None = None, compartment_id: str | None = None,
    ) -> CreatedApiKey:
        """A user key (optionally for a project) or a service key; the token is in the result."""
        if (owner_user_id is None) == (owner_compartment_id is None):
            raise InvalidParameterValue("A key has exactly one owner: a user or a compartment.",
                                        param="owner")
        body: dict[str, Any] = {
            "name": name, "allowed_models": list(allowed_models) if allowed_models is not None else None,
            "allowed_ip_ranges": list(allowed_ip_ranges) if allowed_ip_ranges is not None else None,
            "expires_at": _unix(expires_at),
        }
        if owner_user_id is not None:
            body |= {"user_id": owner_user_id, "compartment_id": compartment_id}
        else:
            if compartment_id not in (None, owner_compartment_id):
                raise InvalidParameterValue("A service key's requests target its own compartment.",
                                            param="compartment_id")
            body["compartment_id"] = owner_compartment_id
        return wire.decoded(wire.created_api_key, await self._send("POST", "/keys", body))

    async def key_compartment(self, key_id: str) -> str:
        """The id of the compartment a key's requests target (``key_…`` or the bare id)."""
        found = await self._get(f"/keys/{quote('key_' + key_id.removeprefix('key_'))}")
        return wire.decoded(wire.api_key, found).compartment_id or ""

    async def list_api_keys(
        self, *, owner_user_id: str | None = None, owner_compartment_id: str | None = None
    ) -> list[ApiKey]:
        """The keys the caller may see (their own and where they may inspect keys)."""
        keys = wire.listed(wire.api_key, await self._get("/keys"))
        return [k for k in keys
                if owner_user_id in (None, k.owner_user_id)
                and owner_compartment_id in (None, k.owner_compartment_id)]

    async def rotate_api_key(
        self, key_id: str, *, slot: int | None = None, expires_at: datetime | None = None
    ) -> CreatedApiKey:
        """Mint a secret in ``slot`` (default: the free one); the other keeps working."""
        answer = await self._send("POST", f"/keys/{quote(key_id)}/rotate",
                                  {"slot": slot, "expires_at": _unix(expires_at)})
        return wire.decoded(wire.created_api_key, answer)

    async def revoke_api_key(self, key_id: str, *, slot: int | None = None) -> ApiKey:
        """Revoke one secret or, with ``slot=None``, the whole key."""
        if slot is None:
            answer = await self._send("DELETE", f"/keys/{quote(key_id)}")
        else:
            answer = await self._send("POST", f"/keys/{quote(key_id)}/secrets/{slot}/revoke")
        return wire.decoded(wire.api_key, answer)
