"""OCI Generative AI's native inference API (``/20231130/actions/chat`` and ``embedText``).

Use it for what the OpenAI-compatible endpoint (``oci_genai``) does not serve: Cohere
models, dedicated AI cluster endpoints, and embeddings
(https://docs.oracle.com/en-us/iaas/api/#/en/generative-ai-inference/20231130/). Requests are
signed with OCI IAM; every body names the compartment and a serving mode: ``ON_DEMAND`` with
the model OCID or name, or ``DEDICATED`` with an endpoint OCID. ``/v1/completions`` has no
native counterpart, so this adapter does not offer it.

The translation itself lives in private modules: ``_oci_chat_request`` (OpenAI -> OCI),
``_oci_chat_reply`` and ``_oci_chat_stream`` (OCI -> OpenAI), ``_oci_embeddings``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, model_validator

from tenantgate.errors import TenantgateError, UnsupportedParameter
from tenantgate.providers import _oci_embeddings
from tenantgate.providers._oci_chat_reply import chat_completion
from tenantgate.providers._oci_chat_request import cohere_chat_request, generic_chat_request
from tenantgate.providers._oci_chat_stream import OciChatStreamDecoder
from tenantgate.providers._oci_errors import map_oci_error
from tenantgate.providers.auth.oci_signing import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_PROFILE,
    OciAuthMode,
    build_oci_signer,
)
from tenantgate.providers.base import (
    Capabilities,
    Operation,
    Reply,
    RequestSigner,
    StreamDecoder,
    UpstreamRequest,
    UpstreamResponse,
)
from tenantgate.providers.oci_genai import oci_base_url
from tenantgate.settings import DeploymentSettings

BASE_URL_TEMPLATE = "https://inference.generativeai.{region}.oci.oraclecloud.com"
API_VERSION_PATH = "/20231130/actions"

_encode = msgspec.json.Encoder().encode


class OciGenAINativeOptions(BaseModel):
    """Provider-specific deployment fields of ``oci_genai_native``."""

    model_config = ConfigDict(extra="forbid")

    compartment_id: str
    serving_mode: Literal["on_demand", "dedicated"] = "on_demand"
    endpoint_id: str | None = None
    api_format: Literal["generic", "cohere"] = "generic"
    auth: OciAuthMode = "oci_config"
    config_file: str = DEFAULT_CONFIG_FILE
    profile: str = DEFAULT_PROFILE
    embedding_input_type: Literal[
        "SEARCH_DOCUMENT", "SEARCH_QUERY", "CLASSIFICATION", "CLUSTERING"
    ] = "SEARCH_DOCUMENT"
    embedding_truncate: Literal["NONE", "START", "END"] = "NONE"

    @model_validator(mode="after")
    def _dedicated_needs_endpoint(self) -> OciGenAINativeOptions:
        if self.serving_mode == "dedicated" and not self.endpoint_id:
            raise ValueError("serving_mode: dedicated needs endpoint_id (the endpoint OCID)")
        return self


def _random_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class OciGenAINativeAdapter:
    """Translation between OpenAI's chat/embeddings and OCI's native chat/embedText."""

    name: ClassVar[str] = "oci_genai_native"
    capabilities = Capabilities(
        operations=frozenset({Operation.CHAT, Operation.EMBEDDING}), logprobs=False
    )

    def __init__(
        self,
        deployment: DeploymentSettings,
        *,
        now_s: Callable[[], float] = time.time,
        new_id: Callable[[], str] = _random_completion_id,
    ) -> None:
        options = OciGenAINativeOptions.model_validate(deployment.provider_options())
        self._options = options
        self._url = oci_base_url(deployment, BASE_URL_TEMPLATE) + API_VERSION_PATH
        self._model = deployment.model
        self._now_s = now_s
        self._new_id = new_id
        if options.serving_mode == "dedicated":
            self._serving_mode = {
                "servingType": "DEDICATED",
                "endpointId": str(options.endpoint_id),
            }
        else:
            self._serving_mode = {"servingType": "ON_DEMAND", "modelId": deployment.model}

    def build_request(
        self, operation: Operation, body: dict[str, Any], *, stream: bool
    ) -> UpstreamRequest:
        if operation == Operation.CHAT:
            build = (
                cohere_chat_request
                if self._options.api_format == "cohere"
                else generic_chat_request
            )
            details = {
                "compartmentId": self._options.compartment_id,
                "servingMode": self._serving_mode,
                "chatRequest": build(body, stream=stream),
            }
            path = "/chat"
        elif operation == Operation.EMBEDDING:
            details = _oci_embeddings.embed_text_details(
                body,
                compartment_id=self._options.compartment_id,
                serving_mode=self._serving_mode,
                truncate=self._options.embedding_truncate,
                input_type=self._options.embedding_input_type,
            )
            path = "/embedText"
        else:
            raise UnsupportedParameter("OCI's native API has no text completions endpoint.")
        return UpstreamRequest(
            method="POST",
            url=self._url + path,
            headers={
                "content-type": "application/json",
                "accept": "text/event-stream" if stream else "application/json",
            },
            body=_encode(details),
            stream=stream,
        )

    def parse_response(
        self, operation: Operation, body: dict[str, Any], response: UpstreamResponse
    ) -> Reply:
        if operation == Operation.EMBEDDING:
            return _oci_embeddings.embedding_list(
                response.body,
                inputs=_oci_embeddings.embedding_inputs(body),
                encoding_format=body.get("encoding_format"),
                fallback_model=self._model,
            )
        answer, usage = chat_completion(
            response.body,
            completion_id=self._new_id(),
            now_s=int(self._now_s()),
            fallback_model=self._model,
        )
        return Reply(body=answer, usage=usage)

    def stream_decoder(self, operation: Operation, body: dict[str, Any]) -> StreamDecoder:
        return OciChatStreamDecoder(
            completion_id=self._new_id(),
            created_s=int(self._now_s()),
            model=self._model,
            cohere=self._options.api_format == "cohere",
        )

    def map_error(self, response: UpstreamResponse) -> TenantgateError:
        return map_oci_error(response, self.name)


def build_signer(deployment: DeploymentSettings) -> RequestSigner:
    """An OCI IAM signer for the configured principal (built on first use)."""
    options = OciGenAINativeOptions.model_validate(deployment.provider_options())
    return build_oci_signer(options.auth, config_file=options.config_file, profile=options.profile)
