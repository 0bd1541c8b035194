"""Routing decisions: which deployment answers, and when to move on to the next (pure)."""
