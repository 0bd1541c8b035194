"""Gateway settings of the rate-limit suite: static keys, fake-upstream models, rules."""

from __future__ import annotations

import hashlib
from typing import Any

from tenantgate.testing import FakeUpstream

UPSTREAM_KEY = "sk-ratelimit-upstream"
UPSTREAM_KEY_ENV = "TG_RATELIMIT_UPSTREAM_KEY"
ENV = {UPSTREAM_KEY_ENV: UPSTREAM_KEY}


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """The principal id of a static key: what a `scope: key` rule matches."""
    return "static-" + digest(key)[:8]


def models(fake: FakeUpstream) -> list[dict[str, Any]]:
    def model(name: str, upstream_model: str) -> dict[str, Any]:
        return {"name": name, "deployments": [{"provider": "openai", "base_url": fake.openai_base_url,
                                               "model": upstream_model, "credential_env": UPSTREAM_KEY_ENV}]}

    return [model("chat", "gpt-4o-mini"), model("slow", "fault-slow-1"),
            model("stalls-mid-stream", "fault-stall-mid-5"), model("broken", "fault-500"), model("rejects", "fault-400")]


def gateway_config(fake: FakeUpstream, keys: list[str], rules: list[dict[str, Any]],
                   **rate_limits: Any) -> dict[str, Any]:
    return {
        "local": {"enabled": False},
        "logging": {"level": "WARNING", "access_log": False},
        "auth": {"required": True, "api_key_sha256": [digest(key) for key in keys]},
        "models": models(fake),
        "rate_limits": {"rules": rules, **rate_limits},
    }
