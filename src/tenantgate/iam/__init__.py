"""Identity and access: who is calling and what they may do.

Evaluation order today: a request must carry a valid key when ``auth.required`` is on
(static key digests from settings). Policies, compartments and per-key scopes come with the
IAM model; they slot in after authentication in ``pipeline.Pipeline``.

Policy sources, in the order they are evaluated (``policy_evaluator.CompiledPolicies``):

1. every ``Allow`` statement of every policy in the tenancy, compiled together; a policy
   attached to a compartment reaches only that compartment and its descendants;
2. nothing else: access is denied by default, and there are no deny statements, so the
   order of statements never changes a decision (it only orders the matched ids).
"""
