"""Azure OpenAI: OpenAI's wire format behind per-deployment URLs, an ``api-key`` header or Entra ID.

Two URL schemes exist (https://learn.microsoft.com/en-us/azure/ai-foundry/openai/api-version-lifecycle):

- ``deployments`` (default): ``{base_url}/openai/deployments/{deployment}/chat/completions
  ?api-version=2024-10-21``; the deployment name (``model`` in the config) picks the model and
  the body's ``model`` is dropped.
- ``v1``: ``{base_url}/openai/v1/chat/completions`` with ``model`` in the body, like OpenAI;
  it needs no ``api-version`` (``api_version: preview`` opts into preview features).

Bodies, replies and streams are OpenAI's, with two Azure additions handled here: content
filter rejections (a 400 with ``code: content_filter``) and stream chunks that carry only
``prompt_filter_results`` with an empty ``choices`` list.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import quote

import msgspec
from pydantic import BaseModel, ConfigDict

from tenantgate.errors import TenantgateError, UpstreamRejectedRequest
from tenantgate.providers import openai_wire
from tenantgate.providers.auth.api_key import HeaderKeySigner
from tenantgate.providers.auth.entra_id import entra_id_signer
from tenantgate.providers.base import (
    DecodedEvents,
    Operation,
    RequestSigner,
    StreamDecoder,
    UpstreamResponse,
)
from tenantgate.settings import DeploymentSettings, SettingsError, read_secret

DEFAULT_API_VERSION = "2024-10-21"  # the latest GA data-plane version of the deployments route


class AzureOpenAIOptions(BaseModel):
    """Provider-specific deployment fields of ``azure_openai``."""

    model_config = ConfigDict(extra="forbid")

    api: Literal["deployments", "v1"] = "deployments"
    api_version: str | None = None
    auth: Literal["api_key", "entra_id"] = "api_key"


class AzureOpenAIAdapter(openai_wire.OpenAIWireAdapter):
    """Translation for Azure OpenAI: OpenAI bodies, Azure URLs, Azure's content-filter quirks."""

    name: ClassVar[str] = "azure_openai"

    def __init__(self, deployment: DeploymentSettings) -> None:
        options = AzureOpenAIOptions.model_validate(deployment.provider_options())
        if not deployment.base_url:
            raise SettingsError(
                "azure_openai needs base_url, e.g. https://<resource>.openai.azure.com"
            )
        base = deployment.base_url.rstrip("/")
        if options.api == "v1":
            super().__init__(f"{base}/openai/v1", deployment.model)
            api_version = options.api_version
        else:
            # The URL names the deployment; the body's model is dropped.
            super().__init__(f"{base}/openai/deployments/{quote(deployment.model, safe='')}", None)
            api_version = options.api_version or DEFAULT_API_VERSION
        self._query = f"?api-version={quote(api_version, safe='')}" if api_version else ""

    def endpoint_url(self, operation: Operation) -> str:
        return super().endpoint_url(operation) + self._query

    def stream_decoder(self, operation: Operation, body: dict[str, Any]) -> StreamDecoder:
        return AzureStreamDecoder()

    def map_error(self, response: UpstreamResponse) -> TenantgateError:
        filtered = _content_filter_code(response)
        if filtered is not None:
            message, _ = openai_wire.error_message(response.body)
            return UpstreamRejectedRequest(
                f"Azure OpenAI's content filter blocked the request ({filtered}): {message}"
            )
        return openai_wire.map_error(response, self.name)


class _InnerErrorView(msgspec.Struct):
    code: str | None = None


class _AzureErrorView(msgspec.Struct):
    code: str | int | None = None
    innererror: _InnerErrorView | None = None


class _AzureErrorBodyView(msgspec.Struct):
    error: _AzureErrorView | None = None


_error_decoder = msgspec.json.Decoder(_AzureErrorBodyView)


def _content_filter_code(response: UpstreamResponse) -> str | None:
    """``content_filter`` (or the inner ``ResponsibleAIPolicyViolation``) of a filtered 400.

    https://learn.microsoft.com/en-us/azure/ai-foundry/openai/concepts/content-filter#scenario-details
    """
    if response.status != 400:
        return None
    try:
        error = _error_decoder.decode(response.body).error
    except msgspec.DecodeError:
        return None
    if error is None:
        return None
    inner = error.innererror.code if error.innererror else None
    if error.code == "content_filter" or inner == "ResponsibleAIPolicyViolation":
        return inner or "content_filter"
    return None


class _ChoicesView(msgspec.Struct):
    choices: list[Any] | None = None


_choices_decoder = msgspec.json.Decoder(_ChoicesView)


class AzureStreamDecoder:
    """OpenAI's stream decoder, minus Azure's prompt-filter-only chunks.

    Azure sends ``{"choices": [], "prompt_filter_results": [...], "id": "", "model": ""}``
    before the first real chunk
    (https://learn.microsoft.com/en-us/azure/ai-foundry/openai/concepts/content-filter#streaming).
    Its empty ``choices`` would make it look like a usage chunk to clients and it carries no
    answer, so it is dropped.
    """

    __slots__ = ("_inner",)

    def __init__(self) -> None:
        self._inner = openai_wire.OpenAIStreamDecoder()

    def feed(self, event: bytes) -> DecodedEvents:
        decoded = self._inner.feed(event)
        if b'"prompt_filter_results"' not in event or decoded.done:
            return decoded
        kept = [
            piece for piece in decoded.pieces if piece.usage is not None or not _no_choices(event)
        ]
        return DecodedEvents(pieces=kept, done=decoded.done)


def _no_choices(event: bytes) -> bool:
    try:
        return not _choices_decoder.decode(event).choices
    except msgspec.DecodeError:
        return False


def build_signer(deployment: DeploymentSettings) -> RequestSigner:
    """``api-key: <key>`` by default; an Entra ID bearer token with ``auth: entra_id``."""
    options = AzureOpenAIOptions.model_validate(deployment.provider_options())
    if options.auth == "entra_id":
        try:
            return entra_id_signer(deployment.credential_env, deployment.credential_file)
        except ValueError as exc:
            raise SettingsError(f"azure_openai deployment {deployment.model!r}: {exc}") from exc
    secret = read_secret(deployment.credential_env, deployment.credential_file)
    if not secret:
        raise SettingsError(
            f"azure_openai deployment {deployment.model!r} has no API key: set credential_env "
            "or credential_file"
        )
    return HeaderKeySigner(secret, header="api-key", prefix="")
