"""Which failures move a request on to the next deployment (decided by error type only).

Failover happens only while nothing has reached the client; after that a failure ends the
stream with an explicit error event instead.
"""

from __future__ import annotations

from tenantgate.errors import (
    DedicatedCapacityDeadlineExceeded,
    DedicatedCapacityShed,
    LocalModelUnavailable,
    LocalQueueDeadlineExceeded,
    LocalQueueFull,
    NoDeploymentAvailable,
    TenantgateError,
    UpstreamError,
)

_CAPACITY_ERRORS = (LocalQueueFull, LocalQueueDeadlineExceeded, LocalModelUnavailable,
                    DedicatedCapacityShed, DedicatedCapacityDeadlineExceeded)


def may_fail_over(error: TenantgateError) -> bool:
    """True when another deployment could plausibly answer the same request."""
    if isinstance(error, UpstreamError):
        return error.retryable
    return isinstance(error, _CAPACITY_ERRORS)


def may_fall_back(error: TenantgateError) -> bool:
    """True when another *model* could answer: every deployment failed over, or none was up."""
    return may_fail_over(error) or isinstance(error, NoDeploymentAvailable)
