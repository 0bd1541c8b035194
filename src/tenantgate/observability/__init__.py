"""Metrics and logs: what operators see of the gateway."""
