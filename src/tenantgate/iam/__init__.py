"""Identity and access: who is calling and what they may do.

Evaluation order today: a request must carry a valid key when ``auth.required`` is on
(static key digests from settings). Policies, compartments and per-key scopes come with the
IAM model; they slot in after authentication in ``pipeline.Pipeline``.
"""
