"""The HTTP surface: OpenAI-compatible /v1 endpoints, health, readiness and metrics."""
