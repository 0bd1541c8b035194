"""One error hierarchy for the whole gateway; every error renders as OpenAI's error shape.

Each concrete class has a stable snake_case ``code``, an HTTP ``status`` and an OpenAI
error ``type``. The API renders exactly one shape::

    {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}

The tree (``docs/reference/errors.md`` documents every code, and a test keeps them equal)::

    TenantgateError
    ├── InvalidRequest                      400 invalid_request_error
    │   ├── InvalidJson                     invalid_json
    │   ├── InvalidParameterType            invalid_type
    │   ├── MissingParameter                missing_required_parameter
    │   ├── InvalidParameterValue           invalid_value
    │   ├── UnsupportedParameter            unsupported_parameter
    │   ├── ContextLengthExceeded           context_length_exceeded
    │   ├── UpstreamRejectedRequest         upstream_invalid_request
    │   ├── PolicySyntaxError               invalid_policy
    │   ├── CompartmentTooDeep              compartment_too_deep
    │   ├── InvalidCompartmentChange        invalid_compartment_change
    │   ├── UnknownParameter                unknown_parameter
    │   ├── IdempotencyKeyInvalid           idempotency_key_invalid
    │   └── IdempotencyKeyReused            422 idempotency_key_reused
    ├── AuthenticationFailed                401 authentication_error
    │   ├── MissingApiKey                   missing_api_key
    │   └── InvalidApiKey                   invalid_api_key
    │       └── ExpiredApiKey               expired_api_key
    ├── PermissionDenied                    403 permission_error (permission_denied)
    │   ├── ModelNotAuthorized              model_not_authorized
    │   └── AddressNotAuthorized            ip_not_allowed
    ├── NotFound                            404 not_found_error
    │   ├── ModelNotFound                   model_not_found
    │   ├── RouteNotFound                   route_not_found
    │   ├── CompartmentNotFound             compartment_not_found
    │   ├── UserNotFound                    user_not_found
    │   ├── GroupNotFound                   group_not_found
    │   ├── ApiKeyNotFound                  api_key_not_found
    │   ├── PolicyNotFound                  policy_not_found
    │   └── RateCardEntryNotFound           rate_card_entry_not_found
    ├── MethodNotAllowed                    405 invalid_request_error (method_not_allowed)
    ├── RequestTimeout                      408 invalid_request_error (request_timeout)
    ├── Conflict                            409 invalid_request_error (conflict)
    │   ├── NameTaken                       name_taken
    │   ├── CompartmentNotEmpty             compartment_not_empty
    │   ├── ApiKeySecretsInUse              api_key_secrets_in_use
    │   ├── AdministratorsProtected         administrators_protected
    │   ├── IdempotencyKeyInProgress        idempotency_key_in_progress
    │   ├── IdempotencyReplayUnavailable    idempotency_replay_unavailable
    │   └── RateCardEntryInEffect           rate_card_entry_in_effect
    ├── RequestTooLarge                     413 invalid_request_error (request_too_large)
    ├── UnsupportedMediaType                415 invalid_request_error (unsupported_media_type)
    ├── RateLimited                         429 rate_limit_error
    │   ├── LocalQueueFull                  local_queue_full
    │   └── DedicatedCapacityShed           dedicated_capacity_shed
    ├── InsufficientQuota                   429 insufficient_quota
    │   └── BudgetExceeded                  budget_exceeded
    ├── InternalError                       500 server_error (internal_error)
    ├── UpstreamError                       502 upstream_error
    │   ├── UpstreamBadResponse             upstream_bad_response
    │   ├── UpstreamAuthFailed              upstream_auth_failed
    │   ├── UpstreamStreamInterrupted       upstream_stream_interrupted
    │   ├── UpstreamRateLimited             429 upstream_rate_limited
    │   ├── UpstreamUnavailable             503 upstream_unavailable
    │   └── UpstreamTimeout                 504 upstream_timeout
    └── ServiceUnavailable                  503 server_error
        ├── NoDeploymentAvailable           no_deployment_available
        │   └── ResidencyUnavailable        residency_unavailable
        ├── LocalModelUnavailable           local_model_unavailable
        ├── LocalQueueDeadlineExceeded      local_queue_deadline_exceeded
        ├── DedicatedCapacityDeadlineExceeded  dedicated_capacity_deadline_exceeded
        ├── ModelNotPriced                  model_not_priced
        ├── AuditUnavailable                audit_unavailable
        └── RateLimiterUnavailable          rate_limiter_unavailable

Failover decides by type, never by message text: ``UpstreamError.retryable`` says whether
another deployment may be tried while nothing has reached the client.

The classes live in modules by family (``request``, ``access``, ``capacity``, ``upstream``);
import them from here.
"""

from __future__ import annotations

from tenantgate.errors.access import (
    AddressNotAuthorized,
    AdministratorsProtected,
    ApiKeyNotFound,
    ApiKeySecretsInUse,
    AuthenticationFailed,
    CompartmentNotEmpty,
    CompartmentNotFound,
    Conflict,
    ExpiredApiKey,
    GroupNotFound,
    IdempotencyKeyInProgress,
    IdempotencyReplayUnavailable,
    InvalidApiKey,
    MissingApiKey,
    ModelNotAuthorized,
    ModelNotFound,
    NameTaken,
    NotFound,
    PermissionDenied,
    PolicyNotFound,
    RateCardEntryInEffect,
    RateCardEntryNotFound,
    RouteNotFound,
    UserNotFound,
)
from tenantgate.errors.base import (
    TenantgateError,
    all_error_classes,
)
from tenantgate.errors.capacity import (
    AuditUnavailable,
    BudgetExceeded,
    DedicatedCapacityDeadlineExceeded,
    DedicatedCapacityShed,
    InsufficientQuota,
    InternalError,
    LocalModelUnavailable,
    LocalQueueDeadlineExceeded,
    LocalQueueFull,
    ModelNotPriced,
    NoDeploymentAvailable,
    RateLimited,
    RateLimiterUnavailable,
    ResidencyUnavailable,
    ServiceUnavailable,
)
from tenantgate.errors.request import (
    CompartmentTooDeep,
    ContextLengthExceeded,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    InvalidCompartmentChange,
    InvalidJson,
    InvalidParameterType,
    InvalidParameterValue,
    InvalidRequest,
    MethodNotAllowed,
    MissingParameter,
    PolicySyntaxError,
    RequestTimeout,
    RequestTooLarge,
    UnknownParameter,
    UnsupportedMediaType,
    UnsupportedParameter,
    UpstreamRejectedRequest,
)
from tenantgate.errors.upstream import (
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamStreamInterrupted,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "AddressNotAuthorized",
    "AdministratorsProtected",
    "ApiKeyNotFound",
    "ApiKeySecretsInUse",
    "AuditUnavailable",
    "AuthenticationFailed",
    "BudgetExceeded",
    "CompartmentNotEmpty",
    "CompartmentNotFound",
    "CompartmentTooDeep",
    "Conflict",
    "ContextLengthExceeded",
    "DedicatedCapacityDeadlineExceeded",
    "DedicatedCapacityShed",
    "ExpiredApiKey",
    "GroupNotFound",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "IdempotencyReplayUnavailable",
    "InsufficientQuota",
    "InternalError",
    "InvalidApiKey",
    "InvalidCompartmentChange",
    "InvalidJson",
    "InvalidParameterType",
    "InvalidParameterValue",
    "InvalidRequest",
    "LocalModelUnavailable",
    "LocalQueueDeadlineExceeded",
    "LocalQueueFull",
    "MethodNotAllowed",
    "MissingApiKey",
    "MissingParameter",
    "ModelNotAuthorized",
    "ModelNotFound",
    "ModelNotPriced",
    "NameTaken",
    "NoDeploymentAvailable",
    "NotFound",
    "PermissionDenied",
    "PolicyNotFound",
    "PolicySyntaxError",
    "RateCardEntryInEffect",
    "RateCardEntryNotFound",
    "RateLimited",
    "RateLimiterUnavailable",
    "RequestTimeout",
    "RequestTooLarge",
    "ResidencyUnavailable",
    "RouteNotFound",
    "ServiceUnavailable",
    "TenantgateError",
    "UnknownParameter",
    "UnsupportedMediaType",
    "UnsupportedParameter",
    "UpstreamAuthFailed",
    "UpstreamBadResponse",
    "UpstreamError",
    "UpstreamRateLimited",
    "UpstreamRejectedRequest",
    "UpstreamStreamInterrupted",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "UserNotFound",
    "all_error_classes",
]
