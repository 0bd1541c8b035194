"""Who may do what: 401, 403, 404, 409."""

from __future__ import annotations

from tenantgate.errors.base import TenantgateError


class AuthenticationFailed(TenantgateError):
    """The caller could not be authenticated."""

    code = "authentication_failed"
    status = 401
    error_type = "authentication_error"
    default_message = "Authentication failed."


class MissingApiKey(AuthenticationFailed):
    """No API key was sent."""

    code = "missing_api_key"
    default_message = (
        "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
    )


class InvalidApiKey(AuthenticationFailed):
    """The API key is unknown, malformed, expired or revoked; which one is not revealed."""

    code = "invalid_api_key"
    default_message = "Incorrect, expired or revoked API key provided."


class ExpiredApiKey(InvalidApiKey):
    """The API key's secret is correct but past its expiry; rotate to the key's other secret.

    Only a caller who presented the right secret learns this, so it reveals nothing to a
    guesser, and it tells the owner exactly what to fix.
    """

    code = "expired_api_key"
    default_message = "This API key secret has expired. Use the key's other secret or rotate it."


class PermissionDenied(TenantgateError):
    """The caller is authenticated but no policy allows this action."""

    code = "permission_denied"
    status = 403
    error_type = "permission_error"
    default_message = "You are not allowed to perform this action."


class ModelNotAuthorized(PermissionDenied):
    """No policy lets the caller use this model in the target compartment, or the key is limited to others.

    A compartment that does not exist gets exactly this answer too, so a caller cannot
    probe which compartments exist.
    """

    code = "model_not_authorized"
    default_message = "You are not allowed to use this model here."


class AddressNotAuthorized(PermissionDenied):
    """The API key may be used only from other networks (its allowed IP ranges)."""

    code = "ip_not_allowed"
    default_message = "This API key may not be used from your network address."


class NotFound(TenantgateError):
    """The addressed object does not exist (or is not visible to the caller)."""

    code = "not_found"
    status = 404
    error_type = "not_found_error"
    default_message = "Not found."


class ModelNotFound(NotFound):
    """The requested model is not in the catalog (or not visible to the caller)."""

    code = "model_not_found"
    error_type = "invalid_request_error"


class RouteNotFound(NotFound):
    """No endpoint is served at this path."""

    code = "route_not_found"
    error_type = "invalid_request_error"


class CompartmentNotFound(NotFound):
    """No compartment has this id or path in the caller's tenancy (others' are never revealed)."""

    code = "compartment_not_found"
    default_message = "Compartment not found."


class UserNotFound(NotFound):
    """No user has this id or name in the caller's tenancy."""

    code = "user_not_found"
    default_message = "User not found."


class GroupNotFound(NotFound):
    """No group has this id or name in the caller's tenancy."""

    code = "group_not_found"
    default_message = "Group not found."


class ApiKeyNotFound(NotFound):
    """No API key has this id in the caller's tenancy."""

    code = "api_key_not_found"
    default_message = "API key not found."


class PolicyNotFound(NotFound):
    """No policy has this id in the caller's tenancy."""

    code = "policy_not_found"
    default_message = "Policy not found."


class RateCardEntryNotFound(NotFound):
    """No administered rate-card entry has this id (or it was withdrawn)."""

    code = "rate_card_entry_not_found"
    default_message = "Rate-card entry not found."


class Conflict(TenantgateError):
    """The request conflicts with the current state of the object; change the state first."""

    code = "conflict"
    status = 409
    error_type = "invalid_request_error"
    default_message = "The request conflicts with the current state."


class NameTaken(Conflict):
    """Another object of this kind already has this name in the same place."""

    code = "name_taken"
    default_message = "The name is already taken."


class CompartmentNotEmpty(Conflict):
    """A compartment is deleted only when it holds no compartments, API keys or policies."""

    code = "compartment_not_empty"
    default_message = "The compartment still holds compartments, API keys or policies."


class ApiKeySecretsInUse(Conflict):
    """Both of the key's secrets are active; revoke one before minting a replacement."""

    code = "api_key_secrets_in_use"
    default_message = "Both secrets of this API key are active; revoke one before rotating."


class AdministratorsProtected(Conflict):
    """The built-in Administrators group cannot be deleted, nor left without a member."""

    code = "administrators_protected"
    default_message = "The Administrators group cannot be deleted or left without a member."


class IdempotencyKeyInProgress(Conflict):
    """A request with this ``Idempotency-Key`` is still running; retry after ``Retry-After`` seconds."""

    code = "idempotency_key_in_progress"
    default_message = "A request with this Idempotency-Key is in progress; retry after Retry-After seconds."


class IdempotencyReplayUnavailable(Conflict):
    """The request with this ``Idempotency-Key`` was answered, but too large an answer to replay."""

    code = "idempotency_replay_unavailable"
    default_message = "This Idempotency-Key's request completed, but too large to replay; use a new key."


class RateCardEntryInEffect(Conflict):
    """A rate-card entry already in effect cannot be withdrawn: past prices never change."""

    code = "rate_card_entry_in_effect"
    default_message = "This rate-card entry is in effect; add a new entry with a later effective_from."
