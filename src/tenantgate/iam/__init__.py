"""Identity and access: who is calling and what they may do.

Evaluation order: ``access_control.AccessControl`` authenticates the bearer token (a ``tg-``
identity key against the in-memory ``access_snapshot.IdentitySnapshot``, else a static key
from settings), then ``pipeline.Pipeline`` asks it to authorize the call: the key's own scope
(allowed models, networks) first, then the policies in the target compartment, per region.

Policy sources, in the order they are evaluated (``policy_evaluator.CompiledPolicies``):

1. every ``Allow`` statement of every policy in the tenancy, compiled together; a policy
   attached to a compartment reaches only that compartment and its descendants;
2. nothing else: access is denied by default, and there are no deny statements, so the
   order of statements never changes a decision (it only orders the matched ids).
"""
