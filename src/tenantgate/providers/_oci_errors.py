"""OCI Generative AI's error answers, mapped to our types by status and OCI's stable codes.

OCI errors are ``{"code": "NotAuthorizedOrNotFound", "message": "..."}`` with an
``opc-request-id`` header that Oracle support asks for
(https://docs.oracle.com/en-us/iaas/Content/API/References/apierrors.htm). The OpenAI-compatible
endpoint may answer in OpenAI's shape instead; ``openai_wire.error_message`` reads both.
"""

from __future__ import annotations

from tenantgate.errors import (
    ContextLengthExceeded,
    TenantgateError,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tenantgate.providers.base import UpstreamResponse
from tenantgate.providers.openai_wire import error_message
from tenantgate.providers.retry_after import parse_retry_after

# OCI answers 404 NotAuthorizedOrNotFound when IAM policy denies the call, on purpose
# indistinguishable from a missing resource; for a configured deployment it means the
# gateway's principal lacks a policy (or the compartment/model OCID is wrong).
_AUTH_CODES = frozenset({"NotAuthenticated", "NotAuthorizedOrNotFound", "NotAuthorized"})


def map_oci_error(response: UpstreamResponse, provider: str) -> TenantgateError:
    """Classify an OCI error answer; the message keeps OCI's text and request id."""
    status = response.status
    message, code = error_message(response.body)
    request_id = response.headers.get("opc-request-id")
    detail = f"{message} (opc-request-id {request_id})" if request_id else message
    if code in _AUTH_CODES or status in (401, 403):
        return UpstreamAuthFailed(
            f"{provider} rejected the gateway's credentials ({status}): {detail}"
        )
    if status in (400, 413, 422):
        if code == "context_length_exceeded":
            return ContextLengthExceeded(message)
        return UpstreamRejectedRequest(f"{provider} rejected the request: {detail}")
    if status == 429:
        return UpstreamRateLimited(
            f"{provider} is rate limiting requests.",
            retry_after_s=parse_retry_after(response.headers),
        )
    if status in (408, 504):
        return UpstreamTimeout(f"{provider} timed out ({status}).")
    if status == 404:
        return UpstreamUnavailable(f"{provider} does not serve this deployment (404): {detail}")
    if status >= 500:
        return UpstreamUnavailable(
            f"{provider} failed ({status}): {detail}",
            retry_after_s=parse_retry_after(response.headers),
        )
    return UpstreamBadResponse(f"{provider} answered with unexpected status {status}: {detail}")
