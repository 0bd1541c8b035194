"""Routing decisions, pure: which deployment answers, when to retry, and what health they learn.

``router`` orders a model's eligible deployments (``residency`` rules, ``health`` breakers,
``strategies`` over ``deployment_state``); ``attempts`` plans one request's attempts (``retry``
policy, backoff and budget; ``failover`` says which errors move on); ``capacity`` admits
attempts to dedicated capacity with reservations (owners first). Time and randomness are
injected; ``tenantgate.deployments`` wires the real ones. See docs/routing.md.
"""
