"""The admin route table: every route's method, path, handler, body, response and permission.

The router (``api.py``) and the OpenAPI document (``openapi.py``) are both generated from
``ROUTES``, and the cross-compartment test suite is parametrized over it, so a route
cannot be served undocumented or escape the authorization matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenantgate.admin import (
    compartments,
    deployments,
    groups,
    keys,
    openai_admin,
    policies,
    rate_card,
    usage,
    users,
)
from tenantgate.admin import openai_views as oa
from tenantgate.admin import rate_card_views as rc
from tenantgate.admin import schemas as s
from tenantgate.admin import usage_views as u
from tenantgate.admin import views as v
from tenantgate.admin.call import AdminCall, Handler, Reply
from tenantgate.admin.openapi import document
from tenantgate.admin.query import Query


@dataclass(frozen=True, slots=True)
class AdminRoute:
    """One method on one path template, with what it reads, returns and requires."""

    method: str
    path: str
    action: str
    handler: Handler
    response: Any
    permission: str
    body: type[s.Body] | None = None
    status: int = 200
    query: type[Query] | None = None
    media_type: str = "application/json"

    @property
    def operation_id(self) -> str:
        """A unique, stable name for the OpenAPI document."""
        return f"{self.handler.__module__.rsplit('.', 1)[-1]}.{self.handler.__name__}"

    @property
    def summary(self) -> str:
        """The handler's one-line docstring."""
        return (self.handler.__doc__ or "").strip().splitlines()[0]


async def serve_openapi(call: AdminCall) -> Reply:
    """``GET /admin/v1/openapi.json``: this API described as OpenAPI 3.1."""
    return Reply(200, document(ROUTES))


_A = "/admin/v1"
_O = "/v1/organization"
_IN_TENANCY = "in tenancy"
_USAGE = "read credits-family in tenancy; in compartments, their requests only"
_RATES_READ = "read credits-family in tenancy"
_RATES_MANAGE = "manage credits-family in tenancy"
R = AdminRoute

ROUTES: tuple[AdminRoute, ...] = (
    R("GET", f"{_A}/compartments", "iam.compartment.list", compartments.list_compartments,
      v.Page[v.CompartmentView], "inspect compartments (in each compartment listed)"),
    R("POST", f"{_A}/compartments", "iam.compartment.create", compartments.create_compartment,
      v.CompartmentView, "manage compartments in the parent", s.CompartmentCreate, 201),
    R("GET", f"{_A}/compartments/{{id}}", "iam.compartment.get", compartments.get_compartment,
      v.CompartmentView, "read compartments in the compartment"),
    R("PATCH", f"{_A}/compartments/{{id}}", "iam.compartment.update", compartments.update_compartment,
      v.CompartmentView, "manage compartments in the parent", s.CompartmentUpdate),
    R("DELETE", f"{_A}/compartments/{{id}}", "iam.compartment.delete", compartments.delete_compartment,
      v.Deleted, "manage compartments in the parent"),
    R("POST", f"{_A}/compartments/{{id}}/move", "iam.compartment.move", compartments.move_compartment,
      v.CompartmentView, "manage compartments in the parent and in the new parent", s.CompartmentMove),
    R("GET", f"{_A}/users", "iam.user.list", users.list_users, v.Page[v.UserView],
      f"inspect users {_IN_TENANCY}"),
    R("POST", f"{_A}/users", "iam.user.create", users.create_user, v.UserView,
      f"manage users {_IN_TENANCY}", s.UserCreate, 201),
    R("GET", f"{_A}/users/{{id}}", "iam.user.get", users.get_user, v.UserView,
      f"read users {_IN_TENANCY} (anyone may read themselves)"),
    R("PATCH", f"{_A}/users/{{id}}", "iam.user.update", users.update_user, v.UserView,
      f"manage users {_IN_TENANCY}; an administrator only by Administrators", s.UserUpdate),
    R("DELETE", f"{_A}/users/{{id}}", "iam.user.delete", users.delete_user, v.Deleted,
      f"manage users {_IN_TENANCY}; an administrator only by Administrators"),
    R("GET", f"{_A}/groups", "iam.group.list", groups.list_groups, v.Page[v.GroupView],
      f"inspect groups {_IN_TENANCY}"),
    R("POST", f"{_A}/groups", "iam.group.create", groups.create_group, v.GroupView,
      f"manage groups {_IN_TENANCY}", s.GroupCreate, 201),
    R("GET", f"{_A}/groups/{{id}}", "iam.group.get", groups.get_group, v.GroupView,
      f"read groups {_IN_TENANCY}"),
    R("DELETE", f"{_A}/groups/{{id}}", "iam.group.delete", groups.delete_group, v.Deleted,
      f"manage groups {_IN_TENANCY}; never the built-in Administrators"),
    R("GET", f"{_A}/groups/{{id}}/members", "iam.group.members.list", groups.list_members,
      v.Page[v.UserView], f"read groups {_IN_TENANCY}"),
    R("PUT", f"{_A}/groups/{{id}}/members/{{user_id}}", "iam.group.member.add", groups.add_member,
      v.MembershipView, f"manage groups {_IN_TENANCY}; not your own; Administrators only by Administrators",
      s.Empty),
    R("DELETE", f"{_A}/groups/{{id}}/members/{{user_id}}", "iam.group.member.remove", groups.remove_member,
      v.MembershipView, f"manage groups {_IN_TENANCY}; not your own; Administrators only by Administrators"),
    R("GET", f"{_A}/policies", "iam.policy.list", policies.list_policies, v.Page[v.PolicyView],
      "inspect policies (in each policy's compartment)"),
    R("POST", f"{_A}/policies", "iam.policy.create", policies.create_policy, v.PolicyView,
      "manage policies in the compartment it attaches to", s.PolicyCreate, 201),
    R("POST", f"{_A}/policies/explain", "iam.policy.explain", policies.explain_policy, v.ExplanationView,
      "inspect policies in the compartment asked about", s.PolicyExplain),
    R("GET", f"{_A}/policies/{{id}}", "iam.policy.get", policies.get_policy, v.PolicyView,
      "read policies in its compartment"),
    R("PUT", f"{_A}/policies/{{id}}", "iam.policy.update", policies.replace_policy, v.PolicyView,
      "manage policies in its compartment (and in the new one when it moves)", s.PolicyReplace),
    R("DELETE", f"{_A}/policies/{{id}}", "iam.policy.delete", policies.delete_policy, v.Deleted,
      "manage policies in its compartment"),
    R("GET", f"{_A}/keys", "iam.key.list", keys.list_keys, v.Page[v.KeyView],
      "your own keys, and inspect generative-ai-apikey (in each key's compartment)"),
    R("POST", f"{_A}/keys", "iam.key.create", keys.create_key, v.MintedKeyView,
      "your own key (narrower than the calling key); else manage generative-ai-apikey in its compartment "
      f"(and manage users {_IN_TENANCY} for another user's key)", s.KeyCreate, 201),
    R("GET", f"{_A}/keys/{{id}}", "iam.key.get", keys.get_key, v.KeyView,
      "your own key, or read generative-ai-apikey in its compartment"),
    R("DELETE", f"{_A}/keys/{{id}}", "iam.key.revoke", keys.revoke_key, v.KeyView,
      "your own key, or manage generative-ai-apikey in its compartment"),
    R("POST", f"{_A}/keys/{{id}}/rotate", "iam.key.rotate", keys.rotate_key, v.MintedKeyView,
      "your own key, or manage generative-ai-apikey in its compartment "
      f"(and manage users {_IN_TENANCY} for another user's key)", s.KeyRotate),
    R("POST", f"{_A}/keys/{{id}}/secrets/{{slot}}/revoke", "iam.key.secret.revoke", keys.revoke_secret,
      v.KeyView, "your own key, or manage generative-ai-apikey in its compartment", s.Empty),
    R("GET", f"{_A}/deployments", "routing.deployment.list", deployments.list_deployments,
      v.Page[deployments.DeploymentView], f"inspect generative-ai-model {_IN_TENANCY}"),
    R("GET", f"{_A}/openapi.json", "admin.openapi.get", serve_openapi, dict[str, Any],
      "any identity key"),
    R("GET", f"{_O}/projects", "iam.compartment.list", openai_admin.list_projects,
      oa.OpenAIList[oa.OpenAIProject], "inspect compartments (in each project listed)"),
    R("POST", f"{_O}/projects", "iam.compartment.create", openai_admin.create_project, oa.OpenAIProject,
      f"manage compartments {_IN_TENANCY}", s.ProjectCreate),
    R("GET", f"{_O}/projects/{{project_id}}", "iam.compartment.get", openai_admin.get_project,
      oa.OpenAIProject, "read compartments in the project"),
    R("POST", f"{_O}/projects/{{project_id}}", "iam.compartment.update", openai_admin.modify_project,
      oa.OpenAIProject, "manage compartments in the project's parent", s.ProjectUpdate),
    R("POST", f"{_O}/projects/{{project_id}}/archive", "iam.compartment.delete", openai_admin.archive_project,
      oa.OpenAIProject, "manage compartments in the project's parent", s.Empty),
    R("GET", f"{_O}/projects/{{project_id}}/api_keys", "iam.key.list", openai_admin.list_project_keys,
      oa.OpenAIList[oa.OpenAIProjectApiKey],
      "your own keys, and inspect generative-ai-apikey in the project"),
    R("GET", f"{_O}/projects/{{project_id}}/api_keys/{{key_id}}", "iam.key.get", openai_admin.get_project_key,
      oa.OpenAIProjectApiKey, "your own key, or read generative-ai-apikey in the project"),
    R("DELETE", f"{_O}/projects/{{project_id}}/api_keys/{{key_id}}", "iam.key.revoke",
      openai_admin.delete_project_key, oa.OpenAIProjectApiKeyDeleted,
      "your own key, or manage generative-ai-apikey in the project"),
    R("GET", f"{_O}/projects/{{project_id}}/service_accounts", "iam.key.list",
      openai_admin.list_service_accounts,
      oa.OpenAIList[oa.OpenAIServiceAccount], "inspect generative-ai-apikey in the project"),
    R("POST", f"{_O}/projects/{{project_id}}/service_accounts", "iam.key.create",
      openai_admin.create_service_account, oa.OpenAIServiceAccountCreated,
      "manage generative-ai-apikey in the project", s.ServiceAccountCreate),
    R("GET", f"{_O}/users", "iam.user.list", openai_admin.list_users, oa.OpenAIList[oa.OpenAIUser],
      f"inspect users {_IN_TENANCY}"),
    R("GET", f"{_O}/users/{{user_id}}", "iam.user.get", openai_admin.get_user, oa.OpenAIUser,
      f"read users {_IN_TENANCY} (anyone may read themselves)"),
    R("GET", f"{_O}/usage/completions", "credits.usage.completions", usage.usage_completions,
      u.UsagePage[u.UsageCompletionsResult], _USAGE, query=u.CompletionsUsageQuery),
    R("GET", f"{_O}/usage/embeddings", "credits.usage.embeddings", usage.usage_embeddings,
      u.UsagePage[u.UsageEmbeddingsResult], _USAGE, query=u.UsageQuery),
    R("GET", f"{_O}/costs", "credits.costs", usage.costs, u.UsagePage[u.CostsResult], _USAGE,
      query=u.CostsQuery),
    R("GET", f"{_A}/usage/focus.csv", "credits.usage.focus", usage.focus_export, str, _USAGE,
      query=u.FocusQuery, media_type="text/csv"),
    R("GET", f"{_A}/rate-card", "credits.rate_card.list", rate_card.list_rate_card,
      v.Page[rc.RateCardEntryView], _RATES_READ, query=rc.RateCardQuery),
    R("POST", f"{_A}/rate-card", "credits.rate_card.create", rate_card.create_rate_card_entry,
      rc.RateCardEntryView, _RATES_MANAGE, s.RateCardCreate, 201),
    R("DELETE", f"{_A}/rate-card/{{id}}", "credits.rate_card.withdraw", rate_card.withdraw_rate_card_entry,
      v.Deleted, f"{_RATES_MANAGE}; only an entry not yet in effect"),
)
