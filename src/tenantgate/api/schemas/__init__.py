"""OpenAI wire models for request validation (msgspec structs; unknown fields pass through)."""
