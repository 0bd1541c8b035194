"""OpenAI and every OpenAI-compatible server (vLLM, llama.cpp server, Ollama, LM Studio).

The base URL includes the version prefix, e.g. ``https://api.openai.com/v1`` or
``http://127.0.0.1:11434/v1`` (Ollama); the credential, when set, is sent as a bearer token.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from tenantgate.providers import openai_wire
from tenantgate.providers.auth.api_key import HeaderKeySigner, NoSigner
from tenantgate.providers.base import RequestSigner
from tenantgate.settings import DeploymentSettings, SettingsError, read_secret

OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIOptions(BaseModel):
    """Provider-specific deployment fields: the OpenAI organization and project headers."""

    model_config = ConfigDict(extra="forbid")

    organization: str | None = None
    project: str | None = None


class OpenAIAdapter(openai_wire.OpenAIWireAdapter):
    """Translation for the OpenAI wire format: the body passes through with the model renamed."""

    name: ClassVar[str] = "openai"

    def __init__(self, deployment: DeploymentSettings) -> None:
        parsed = OpenAIOptions.model_validate(deployment.provider_options())
        headers: dict[str, str] = {}
        if parsed.organization:
            headers["openai-organization"] = parsed.organization
        if parsed.project:
            headers["openai-project"] = parsed.project
        super().__init__((deployment.base_url or OPENAI_BASE_URL).rstrip("/"), deployment.model,
                         headers)


def build_signer(deployment: DeploymentSettings) -> RequestSigner:
    """Bearer token from the deployment's credential reference; none for open local servers.

    A reference that names a missing variable or file stops start-up: a silently
    unauthenticated upstream would only fail later, request by request.
    """
    if not (deployment.credential_env or deployment.credential_file):
        return NoSigner()
    secret = read_secret(deployment.credential_env, deployment.credential_file)
    if not secret:
        where = deployment.credential_env or deployment.credential_file
        raise SettingsError(f"the credential for {deployment.model!r} ({where}) is not set")
    return HeaderKeySigner(secret)
