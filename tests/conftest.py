"""Fixtures shared by every test package: the dual-engine database fixtures (SQLite and PostgreSQL)."""

pytest_plugins = ["tenantgate.testing.databases"]
