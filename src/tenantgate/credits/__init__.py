"""Universal credits: prices, the maximum a request can cost, and what it did cost.

``pricing`` turns token counts into integer micro-credits; ``prompt_tokens`` bounds a
request's prompt before it is sent. Both are pure so that a hold and its settlement can be
recomputed, and audited, from the request and the usage alone.
"""
