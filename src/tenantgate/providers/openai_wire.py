"""OpenAI's wire format as spoken by upstreams: request bodies, replies, stream chunks, errors.

OpenAI itself, Azure OpenAI, OCI's OpenAI-compatible endpoint, vLLM, llama.cpp and Ollama
all speak it; their adapters differ only in URLs and credentials, so the translation lives
here once. Replies pass through byte for byte: the gateway reads what it needs (usage,
finish reasons) with narrow msgspec views instead of re-encoding every answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from tenantgate.errors import (
    ContextLengthExceeded,
    TenantgateError,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamStreamInterrupted,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tenantgate.providers.base import (
    Capabilities,
    DecodedEvents,
    Operation,
    Reply,
    StreamDecoder,
    StreamPiece,
    UpstreamRequest,
    UpstreamResponse,
    Usage,
)
from tenantgate.providers.retry_after import parse_retry_after

ENDPOINT_PATHS = {
    Operation.CHAT: "/chat/completions",
    Operation.COMPLETION: "/completions",
    Operation.EMBEDDING: "/embeddings",
}

_encode = msgspec.json.Encoder().encode


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class _UsageView(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None


class _ReplyView(msgspec.Struct):
    usage: _UsageView | None = None
    object: str | None = None


class _ChoiceView(msgspec.Struct):
    finish_reason: str | None = None


class _ErrorView(msgspec.Struct):
    message: str | None = None
    code: str | int | None = None
    type: str | None = None


class _ChunkView(msgspec.Struct):
    choices: list[_ChoiceView] | None = None
    usage: _UsageView | None = None
    error: _ErrorView | None = None


class _ErrorBodyView(msgspec.Struct):
    error: _ErrorView | str | None = None
    message: str | None = None
    code: str | None = None


_reply_decoder = msgspec.json.Decoder(_ReplyView)
_chunk_decoder = msgspec.json.Decoder(_ChunkView)
_error_decoder = msgspec.json.Decoder(_ErrorBodyView)


def build_body(body: dict[str, Any], upstream_model: str | None, *, stream: bool) -> bytes:
    """The client's body with the upstream's model name, asking for usage when streaming.

    Usage is always requested on streams so the gateway can meter them; the pipeline strips
    the usage chunk again when the client did not ask for it.
    """
    out = dict(body)
    if upstream_model is None:
        out.pop("model", None)
    else:
        out["model"] = upstream_model
    if stream:
        out["stream"] = True
        options = out.get("stream_options")
        out["stream_options"] = {**(options if isinstance(options, dict) else {}),
                                 "include_usage": True}
    else:
        out.pop("stream_options", None)
    return _encode(out)


def usage_from_view(view: _UsageView | None) -> Usage | None:
    if view is None:
        return None
    cached = view.prompt_tokens_details.cached_tokens if view.prompt_tokens_details else None
    return Usage(
        prompt_tokens=view.prompt_tokens,
        completion_tokens=view.completion_tokens or 0,
        cached_tokens=cached or 0,
    )


def parse_reply(response: UpstreamResponse) -> Reply:
    """Accept a 2xx OpenAI-format body unchanged after checking it is an object with usage."""
    try:
        view = _reply_decoder.decode(response.body)
    except msgspec.DecodeError as exc:
        raise UpstreamBadResponse(f"The upstream returned invalid JSON: {exc}") from exc
    return Reply(body=response.body, usage=usage_from_view(view.usage))


class OpenAIStreamDecoder:
    """Reads OpenAI ``chat.completion.chunk`` / ``text_completion`` events; passes them through."""

    __slots__ = ()

    def feed(self, event: bytes) -> DecodedEvents:
        if event == b"[DONE]":
            return DecodedEvents(done=True)
        try:
            view = _chunk_decoder.decode(event)
        except msgspec.DecodeError as exc:
            raise UpstreamBadResponse(f"The upstream sent a malformed stream chunk: {exc}") from exc
        if view.error is not None:
            raise UpstreamStreamInterrupted(
                f"The upstream reported an error mid-stream: {view.error.message or 'unknown'}"
            )
        choices = view.choices or []
        finished = sum(1 for choice in choices if choice.finish_reason)
        usage = usage_from_view(view.usage)
        piece = StreamPiece(
            data=event,
            usage=usage,
            usage_only=usage is not None and not choices,
            finished_choices=finished,
        )
        return DecodedEvents(pieces=[piece])


def error_message(body: bytes) -> tuple[str, str | None]:
    """The upstream's error message and code, from OpenAI's or a similar error body."""
    try:
        view = _error_decoder.decode(body)
    except msgspec.DecodeError:
        text = body[:300].decode("utf-8", "replace").strip()
        return (text or "no error body"), None
    if isinstance(view.error, _ErrorView):
        code = view.error.code
        return view.error.message or "no message", str(code) if code is not None else None
    if isinstance(view.error, str):
        return view.error, view.code
    return view.message or "no message", view.code


def map_error(response: UpstreamResponse, provider: str) -> TenantgateError:
    """Classify an error answer of an OpenAI-format upstream by its status (and stable code)."""
    status = response.status
    message, code = error_message(response.body)
    if status in (400, 413, 422):
        if code == "context_length_exceeded":
            return ContextLengthExceeded(message)
        return UpstreamRejectedRequest(f"{provider} rejected the request: {message}")
    if status in (401, 403):
        return UpstreamAuthFailed(f"{provider} rejected the gateway's credentials ({status}).")
    if status == 429:
        return UpstreamRateLimited(
            f"{provider} is rate limiting requests.",
            retry_after_s=parse_retry_after(response.headers),
        )
    if status in (408, 504):
        return UpstreamTimeout(f"{provider} timed out ({status}).")
    if status == 404:
        return UpstreamUnavailable(f"{provider} does not serve this deployment (404): {message}")
    if status >= 500:
        return UpstreamUnavailable(
            f"{provider} failed ({status}).", retry_after_s=parse_retry_after(response.headers)
        )
    return UpstreamBadResponse(f"{provider} answered with unexpected status {status}.")


class OpenAIWireAdapter:
    """The adapter of an upstream that speaks OpenAI's wire format under ``base_url``.

    Bodies pass through with the upstream's model name; replies pass through byte for byte.
    A provider subclasses it and overrides only what differs: :meth:`endpoint_url`, the
    stream decoder, the error mapping.
    """

    name: ClassVar[str] = "openai"
    capabilities = Capabilities(operations=frozenset(Operation))

    def __init__(
        self, base_url: str, upstream_model: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self._base_url = base_url
        self._upstream_model = upstream_model
        self._static_headers = {"content-type": "application/json", **(headers or {})}

    def endpoint_url(self, operation: Operation) -> str:
        """Where requests of ``operation`` go."""
        return self._base_url + ENDPOINT_PATHS[operation]

    def build_request(
        self, operation: Operation, body: dict[str, Any], *, stream: bool
    ) -> UpstreamRequest:
        headers = dict(self._static_headers)
        headers["accept"] = "text/event-stream" if stream else "application/json"
        return UpstreamRequest(
            method="POST",
            url=self.endpoint_url(operation),
            headers=headers,
            body=build_body(body, self._upstream_model, stream=stream),
            stream=stream,
        )

    def parse_response(
        self, operation: Operation, body: dict[str, Any], response: UpstreamResponse
    ) -> Reply:
        return parse_reply(response)

    def stream_decoder(self, operation: Operation, body: dict[str, Any]) -> StreamDecoder:
        return OpenAIStreamDecoder()

    def map_error(self, response: UpstreamResponse) -> TenantgateError:
        return map_error(response, self.name)
