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
    │   └── PolicyNotFound                  policy_not_found
    ├── MethodNotAllowed                    405 invalid_request_error (method_not_allowed)
    ├── RequestTimeout                      408 invalid_request_error (request_timeout)
    ├── Conflict                            409 invalid_request_error (conflict)
    │   ├── NameTaken                       name_taken
    │   ├── CompartmentNotEmpty             compartment_not_empty
    │   ├── ApiKeySecretsInUse              api_key_secrets_in_use
    │   ├── AdministratorsProtected         administrators_protected
    │   ├── IdempotencyKeyInProgress        idempotency_key_in_progress
    │   └── IdempotencyReplayUnavailable    idempotency_replay_unavailable
    ├── RequestTooLarge                     413 invalid_request_error (request_too_large)
    ├── UnsupportedMediaType                415 invalid_request_error (unsupported_media_type)
    ├── RateLimited                         429 rate_limit_error
    │   └── LocalQueueFull                  local_queue_full
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
        ├── LocalModelUnavailable           local_model_unavailable
        ├── LocalQueueDeadlineExceeded      local_queue_deadline_exceeded
        ├── ModelNotPriced                  model_not_priced
        └── AuditUnavailable                audit_unavailable

Failover decides by type, never by message text: ``UpstreamError.retryable`` says whether
another deployment may be tried while nothing has reached the client.
"""

from __future__ import annotations

from typing import ClassVar


class TenantgateError(Exception):
    """Root of every error the gateway raises on purpose."""

    code: ClassVar[str] = "tenantgate_error"
    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_message: ClassVar[str] = "The gateway could not handle the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.param = param
        self.retry_after_s = retry_after_s
        super().__init__(self.message)

    def to_body(self) -> dict[str, object]:
        """The OpenAI error object for this error."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(TenantgateError):
    """The request is malformed or inconsistent; retrying it unchanged cannot succeed."""

    code = "invalid_request"
    status = 400
    error_type = "invalid_request_error"
    default_message = "The request is invalid."


class InvalidJson(InvalidRequest):
    """The body is not valid JSON (or not a JSON object)."""

    code = "invalid_json"
    default_message = (
        "We could not parse the JSON body of your request. The body must be a JSON object."
    )


class InvalidParameterType(InvalidRequest):
    """A parameter has the wrong JSON type."""

    code = "invalid_type"


class MissingParameter(InvalidRequest):
    """A required parameter is absent."""

    code = "missing_required_parameter"


class InvalidParameterValue(InvalidRequest):
    """A parameter has the right type but a value outside its domain."""

    code = "invalid_value"


class UnsupportedParameter(InvalidRequest):
    """The chosen model or deployment cannot honour a parameter."""

    code = "unsupported_parameter"


class ContextLengthExceeded(InvalidRequest):
    """The prompt (plus requested output) does not fit the model's context window."""

    code = "context_length_exceeded"


class UpstreamRejectedRequest(InvalidRequest):
    """The upstream answered 4xx about the request's content; its message is relayed."""

    code = "upstream_invalid_request"


class PolicySyntaxError(InvalidRequest):
    """A policy does not parse or names a location outside its compartment; says where."""

    code = "invalid_policy"
    default_message = "The policy is invalid."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        retry_after_s: float | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.line = line
        self.column = column
        if message is not None and line is not None:
            message = f"line {line}, column {column}: {message}"
        super().__init__(message, param=param, retry_after_s=retry_after_s)

class CompartmentTooDeep(InvalidRequest):
    """Creating or moving the compartment would nest it more than six levels below the tenancy."""

    code = "compartment_too_deep"
    default_message = "Compartments nest at most six levels below the tenancy."


class InvalidCompartmentChange(InvalidRequest):
    """The root cannot be moved or deleted, and no compartment can move into its own subtree."""

    code = "invalid_compartment_change"
    default_message = "This change to the compartment tree is not allowed."


class UnknownParameter(InvalidRequest):
    """The body has a field the endpoint does not accept, e.g. a read-only one (mass assignment)."""

    code = "unknown_parameter"
    default_message = "Unrecognized request argument supplied."


class IdempotencyKeyInvalid(InvalidRequest):
    """The ``Idempotency-Key`` header is empty, longer than 255 characters or not printable ASCII."""

    code = "idempotency_key_invalid"
    default_message = "The Idempotency-Key header must be 1 to 255 printable ASCII characters."


class IdempotencyKeyReused(InvalidRequest):
    """The ``Idempotency-Key`` was already used by this caller for a different request."""

    code = "idempotency_key_reused"
    status = 422
    default_message = "This Idempotency-Key was already used with a different request; use a new key."


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


class MethodNotAllowed(TenantgateError):
    """The path exists but not for this HTTP method."""

    code = "method_not_allowed"
    status = 405
    error_type = "invalid_request_error"
    default_message = "Method not allowed for this endpoint."


class RequestTimeout(TenantgateError):
    """The client did not finish sending its request before the receive deadline."""

    code = "request_timeout"
    status = 408
    error_type = "invalid_request_error"
    default_message = "The request body was not received in time."


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


class RequestTooLarge(TenantgateError):
    """The request body exceeds the configured maximum."""

    code = "request_too_large"
    status = 413
    error_type = "invalid_request_error"
    default_message = "The request body is too large."


class UnsupportedMediaType(TenantgateError):
    """The body is declared as something other than JSON."""

    code = "unsupported_media_type"
    status = 415
    error_type = "invalid_request_error"
    default_message = "The request body must be JSON (Content-Type: application/json)."


class RateLimited(TenantgateError):
    """The caller is over a rate limit; ``retry_after_s`` says when to come back."""

    code = "rate_limit_exceeded"
    status = 429
    error_type = "rate_limit_error"
    default_message = "Rate limit reached. Retry after the time in the Retry-After header."


class LocalQueueFull(RateLimited):
    """The local model's request queue is full."""

    code = "local_queue_full"
    default_message = "The local model is busy and its queue is full. Retry shortly."


class InsufficientQuota(TenantgateError):
    """The prepaid credits cannot cover this request's maximum cost; it never reached the upstream.

    Shaped like OpenAI's own quota error (type and code ``insufficient_quota``), so SDKs and
    tools that handle an exhausted OpenAI account handle an exhausted commitment the same way.
    """

    code = "insufficient_quota"
    status = 429
    error_type = "insufficient_quota"
    default_message = (
        "You exceeded your current quota: the tenancy's credits cannot cover this request's "
        "maximum cost. Lower max_tokens, or ask an administrator to add credits."
    )


class BudgetExceeded(InsufficientQuota):
    """A hard budget in the request's chain (key, user, compartment or an ancestor) is used up."""

    code = "budget_exceeded"
    default_message = "A budget that applies to this request is used up for the current period."


class InternalError(TenantgateError):
    """A bug: something the gateway did not expect. Logged with its traceback."""

    code = "internal_error"
    default_message = "The gateway had an internal error. The request id identifies it in the logs."


class UpstreamError(TenantgateError):
    """An upstream provider failed; subclasses say how, and whether failover may help."""

    code = "upstream_error"
    status = 502
    error_type = "server_error"
    default_message = "The upstream provider returned an error."
    retryable: ClassVar[bool] = False


class UpstreamBadResponse(UpstreamError):
    """The upstream answered something that is not a valid response in its wire format."""

    code = "upstream_bad_response"
    default_message = "The upstream provider returned a malformed response."
    retryable = True


class UpstreamAuthFailed(UpstreamError):
    """The upstream refused the gateway's own credentials: an operator problem, not the caller's."""

    code = "upstream_auth_failed"
    default_message = "The gateway's credentials for the upstream provider were rejected."
    retryable = True


class UpstreamStreamInterrupted(UpstreamError):
    """The upstream stream broke after the answer had started; the answer is incomplete."""

    code = "upstream_stream_interrupted"
    default_message = "The upstream stream was interrupted; the answer is incomplete."


class UpstreamRateLimited(UpstreamError):
    """The upstream throttled the request (its 429)."""

    code = "upstream_rate_limited"
    status = 429
    error_type = "rate_limit_error"
    default_message = "The upstream provider is rate limiting requests."
    retryable = True


class UpstreamUnavailable(UpstreamError):
    """The upstream is down: 5xx, refused or reset connections."""

    code = "upstream_unavailable"
    status = 503
    default_message = "The upstream provider is unavailable."
    retryable = True


class UpstreamTimeout(UpstreamError):
    """The upstream did not connect, answer or continue within its deadline."""

    code = "upstream_timeout"
    status = 504
    default_message = "The upstream provider did not respond in time."
    retryable = True


class ServiceUnavailable(TenantgateError):
    """The gateway cannot serve this now; ``retry_after_s`` may say when to retry."""

    code = "service_unavailable"
    status = 503
    error_type = "server_error"
    default_message = "The service is temporarily unavailable."


class NoDeploymentAvailable(ServiceUnavailable):
    """Every deployment of the model failed or is unavailable."""

    code = "no_deployment_available"
    default_message = "No deployment of this model is available right now."


class LocalModelUnavailable(ServiceUnavailable):
    """The local engine or its model files are not installed or failed to load."""

    code = "local_model_unavailable"
    default_message = "The local model is not available on this server."


class LocalQueueDeadlineExceeded(ServiceUnavailable):
    """The request waited in the local model's queue past its deadline."""

    code = "local_queue_deadline_exceeded"
    default_message = "The local model was too busy to start this request in time."


class ModelNotPriced(ServiceUnavailable):
    """Credits are on but the rate card has no price for this model, so it is not served.

    Refusing is the safe side: serving an unpriced model would hand out free usage.
    """

    code = "model_not_priced"
    default_message = "This model has no price on the rate card, so it cannot be metered."


class AuditUnavailable(ServiceUnavailable):
    """The audit trail could not durably record an event, so the change it describes is refused."""

    code = "audit_unavailable"
    default_message = "The audit trail is unavailable; the change was not recorded."


def all_error_classes() -> list[type[TenantgateError]]:
    """Every error class in the hierarchy, root first (used by docs and their test)."""
    seen: list[type[TenantgateError]] = []
    pending: list[type[TenantgateError]] = [TenantgateError]
    while pending:
        cls = pending.pop(0)
        if cls not in seen:
            seen.append(cls)
            pending.extend(cls.__subclasses__())
    return seen
