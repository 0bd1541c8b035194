"""Failures of the upstream a request was sent to: 502, 503, 504, 429."""

from __future__ import annotations

from typing import ClassVar

from tenantgate.errors.base import TenantgateError


class UpstreamError(TenantgateError):
    """An upstream provider failed; subclasses say how, and whether failover may help."""

    code = "upstream_error"
    status = 502
    error_type = "server_error"
    default_message = "The upstream provider returned an error."
    retryable: ClassVar[bool] = False
    upstream_accepted: bool = False
    """Whether the upstream took the request on (answered 2xx, or was sent it and never
    answered in time), so it may bill for an attempt no caller is charged for. Set per
    instance by the transport and the HTTP backend (``accepted``)."""

    def accepted(self) -> UpstreamError:
        """Mark this failure as one the upstream may bill for; returns it, to re-raise."""
        self.upstream_accepted = True
        return self


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
