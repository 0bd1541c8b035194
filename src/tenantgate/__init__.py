"""Tenantgate: a self-hosted, OpenAI-compatible gateway to many clouds' models, under your tenancy's rules."""

__version__ = "0.1.0"

__all__ = ["__version__"]
