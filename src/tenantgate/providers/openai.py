"""OpenAI and every OpenAI-compatible server (vLLM, llama.cpp server, Ollama, LM Studio).

The base URL includes the version prefix, e.g. ``https://api.openai.com/v1`` or
``http://127.0.0.1:11434/v1`` (Ollama); the credential, when set, is sent as a bearer token.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from tenantgate.errors import TenantgateError
from tenantgate.providers import openai_wire
from tenantgate.providers.auth.api_key import HeaderKeySigner, NoSigner
from tenantgate.providers.base import (
    Capabilities,
    Operation,
    Reply,
    RequestSigner,
    StreamDecoder,
    UpstreamRequest,
    UpstreamResponse,
)
from tenantgate.settings import DeploymentSettings, SettingsError, read_secret

OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIOptions(BaseModel):
    """Provider-specific deployment fields: the OpenAI organization and project headers."""

    model_config = ConfigDict(extra="forbid")

    organization: str | None = None
    project: str | None = None


class OpenAIAdapter:
    """Translation for the OpenAI wire format: the body passes through with the model renamed."""

    name: ClassVar[str] = "openai"
    capabilities = Capabilities(operations=frozenset(Operation))

    def __init__(self, deployment: DeploymentSettings) -> None:
        parsed = OpenAIOptions.model_validate(deployment.provider_options())
        self._base_url = (deployment.base_url or OPENAI_BASE_URL).rstrip("/")
        self._model = deployment.model
        self._static_headers = {"content-type": "application/json"}
        if parsed.organization:
            self._static_headers["openai-organization"] = parsed.organization
        if parsed.project:
            self._static_headers["openai-project"] = parsed.project

    def build_request(
        self, operation: Operation, body: dict[str, Any], *, stream: bool
    ) -> UpstreamRequest:
        headers = dict(self._static_headers)
        headers["accept"] = "text/event-stream" if stream else "application/json"
        return UpstreamRequest(
            method="POST",
            url=self._base_url + openai_wire.ENDPOINT_PATHS[operation],
            headers=headers,
            body=openai_wire.build_body(body, self._model, stream=stream),
            stream=stream,
        )

    def parse_response(
        self, operation: Operation, body: dict[str, Any], response: UpstreamResponse
    ) -> Reply:
        return openai_wire.parse_reply(response)

    def stream_decoder(self, operation: Operation, body: dict[str, Any]) -> StreamDecoder:
        return openai_wire.OpenAIStreamDecoder()

    def map_error(self, response: UpstreamResponse) -> TenantgateError:
        return openai_wire.map_error(response, self.name)


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
