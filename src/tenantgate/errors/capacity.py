"""Limits and availability of the gateway itself: 429, 500, 503."""

from __future__ import annotations

from tenantgate.errors.base import TenantgateError


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


class DedicatedCapacityShed(RateLimited):
    """Dedicated capacity is saturated and its queue is full: refused at once, with Retry-After.

    Other compartments' requests are shed first; the owner of a reservation is shed only when
    the queue holds nothing but other owners' waiters.
    """

    code = "dedicated_capacity_shed"
    default_message = (
        "The deployment's dedicated capacity is saturated and its queue is full. "
        "Retry after the time in the Retry-After header."
    )


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


class ResidencyUnavailable(NoDeploymentAvailable):
    """The compartment is pinned to a residency and no deployment there is up; none elsewhere is tried."""

    code = "residency_unavailable"
    default_message = (
        "No deployment of this model in the residency your compartment is pinned to is available."
    )


class LocalModelUnavailable(ServiceUnavailable):
    """The local engine or its model files are not installed or failed to load."""

    code = "local_model_unavailable"
    default_message = "The local model is not available on this server."


class LocalQueueDeadlineExceeded(ServiceUnavailable):
    """The request waited in the local model's queue past its deadline."""

    code = "local_queue_deadline_exceeded"
    default_message = "The local model was too busy to start this request in time."


class DedicatedCapacityDeadlineExceeded(ServiceUnavailable):
    """The request waited for a slot of dedicated capacity past ``capacity_queue.queue_deadline_ms``."""

    code = "dedicated_capacity_deadline_exceeded"
    default_message = "The deployment's dedicated capacity was too busy to start this request in time."


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


class RateLimiterUnavailable(ServiceUnavailable):
    """The shared rate-limit store (Redis) cannot be reached and ``on_store_error`` is ``closed``."""

    code = "rate_limiter_unavailable"
    default_message = "The rate limiter is unavailable, so the request was not admitted. Retry shortly."
