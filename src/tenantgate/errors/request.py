"""Errors in what the client sent: 400, 405, 408, 413, 415."""

from __future__ import annotations

from tenantgate.errors.base import TenantgateError


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
