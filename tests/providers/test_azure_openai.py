"""Azure OpenAI translation: URLs, headers, bodies, stream quirks, errors; then the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tenantgate.errors import (
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamUnavailable,
)
from tenantgate.providers.azure_openai import AzureOpenAIAdapter, AzureStreamDecoder, build_signer
from tenantgate.providers.base import DeploymentInfo, Operation, UpstreamResponse
from tenantgate.providers.http_backend import HttpBackend
from tenantgate.providers.registry import PROVIDERS, HttpProvider
from tenantgate.providers.transport import HttpTransport
from tenantgate.settings import (
    DeploymentSettings,
    SettingsError,
    UpstreamSettings,
    UpstreamTimeouts,
)
from tenantgate.testing.fake_upstream import FakeUpstream

BASE = "https://contoso.openai.azure.com"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def _deployment(**fields: Any) -> DeploymentSettings:
    values: dict[str, Any] = {
        "provider": "azure_openai",
        "model": "gpt4o-prod",
        "base_url": BASE,
        "credential_env": "AZURE_KEY",
        **fields,
    }
    return DeploymentSettings.model_validate(values)


def test_registered_as_an_http_provider() -> None:
    spec = PROVIDERS["azure_openai"]
    assert isinstance(spec, HttpProvider)
    assert spec.adapter is AzureOpenAIAdapter


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        (Operation.CHAT, "chat/completions"),
        (Operation.COMPLETION, "completions"),
        (Operation.EMBEDDING, "embeddings"),
    ],
)
def test_deployments_route_names_the_deployment_and_ga_api_version(
    operation: Operation, path: str
) -> None:
    request = AzureOpenAIAdapter(_deployment()).build_request(operation, dict(CHAT), stream=False)

    assert request.method == "POST"
    assert request.url == f"{BASE}/openai/deployments/gpt4o-prod/{path}?api-version=2024-10-21"
    assert request.headers == {"content-type": "application/json", "accept": "application/json"}
    assert json.loads(request.body) == {
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
    }


def test_api_version_is_configurable() -> None:
    adapter = AzureOpenAIAdapter(_deployment(api_version="2025-04-01-preview"))

    request = adapter.build_request(Operation.CHAT, dict(CHAT), stream=False)

    assert request.url.endswith("/chat/completions?api-version=2025-04-01-preview")


def test_v1_route_puts_the_deployment_in_the_body_and_needs_no_api_version() -> None:
    adapter = AzureOpenAIAdapter(_deployment(api="v1"))

    request = adapter.build_request(Operation.CHAT, dict(CHAT), stream=True)

    assert request.url == f"{BASE}/openai/v1/chat/completions"
    assert request.stream is True
    assert request.headers["accept"] == "text/event-stream"
    assert json.loads(request.body) == {
        "model": "gpt4o-prod",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_base_url_is_required() -> None:
    with pytest.raises(SettingsError, match="base_url"):
        AzureOpenAIAdapter(_deployment(base_url=None))


def test_unknown_provider_fields_are_rejected() -> None:
    with pytest.raises(ValueError, match="resource_name"):
        AzureOpenAIAdapter(_deployment(resource_name="contoso"))


def test_api_key_goes_in_the_api_key_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_KEY", "azkey")
    adapter = AzureOpenAIAdapter(_deployment())

    signed = build_signer(_deployment()).sign(
        adapter.build_request(Operation.CHAT, dict(CHAT), stream=False)
    )

    assert signed.headers["api-key"] == "azkey"
    assert "authorization" not in signed.headers


def test_missing_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_KEY", raising=False)

    with pytest.raises(SettingsError, match="API key"):
        build_signer(_deployment())


def test_entra_id_token_file_is_sent_as_bearer(tmp_path: Path) -> None:
    token = tmp_path / "azure-identity-token"
    token.write_text("eyJ.entra\n")
    deployment = _deployment(auth="entra_id", credential_env=None, credential_file=str(token))

    signed = build_signer(deployment).sign(
        AzureOpenAIAdapter(deployment).build_request(Operation.CHAT, dict(CHAT), stream=False)
    )

    assert signed.headers["authorization"] == "Bearer eyJ.entra"
    assert "api-key" not in signed.headers


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = UpstreamResponse(
        status=status, headers=headers or {}, body=json.dumps(body).encode()
    )
    return AzureOpenAIAdapter(_deployment()).map_error(response)


def test_content_filter_rejection_names_the_filter() -> None:
    error = _error(
        400,
        {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure "
                "OpenAI's content management policy.",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {"hate": {"filtered": True, "severity": "high"}},
                },
            }
        },
    )

    assert isinstance(error, UpstreamRejectedRequest)
    assert error.message.startswith(
        "Azure OpenAI's content filter blocked the request (ResponsibleAIPolicyViolation): "
        "The response was filtered"
    )


def test_other_errors_map_like_openai() -> None:
    assert isinstance(
        _error(401, {"error": {"code": "401", "message": "denied"}}), UpstreamAuthFailed
    )
    limited = _error(429, {"error": {"code": "429", "message": "slow"}}, {"retry-after-ms": "1500"})
    assert isinstance(limited, UpstreamRateLimited)
    assert limited.retry_after_s == 1.5
    missing = _error(404, {"error": {"code": "DeploymentNotFound", "message": "no"}})
    assert isinstance(missing, UpstreamUnavailable)
    plain_400 = _error(400, {"error": {"code": None, "message": "bad max_tokens"}})
    assert isinstance(plain_400, UpstreamRejectedRequest)
    assert "content filter" not in plain_400.message


PROMPT_FILTER_CHUNK = (
    b'{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":'
    b'[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}'
)


def test_stream_drops_prompt_filter_chunks_but_keeps_answer_and_usage() -> None:
    decoder = AzureStreamDecoder()
    content = (
        b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":'
        b'[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null,'
        b'"content_filter_results":{}}]}'
    )
    finish = (
        b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":'
        b'[{"index":0,"delta":{},"finish_reason":"stop"}]}'
    )
    usage = (
        b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}'
    )

    dropped = decoder.feed(PROMPT_FILTER_CHUNK)
    pieces = [decoder.feed(e).pieces for e in (content, finish, usage)]
    done = decoder.feed(b"[DONE]")

    assert dropped.pieces == []
    assert not dropped.done
    assert [p.data for group in pieces for p in group] == [content, finish, usage]
    assert pieces[1][0].finished_choices == 1
    assert pieces[2][0].usage_only
    assert pieces[2][0].usage is not None
    assert pieces[2][0].usage.total_tokens == 4
    assert done.done


# --- against the fake upstream --------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Any:
    with FakeUpstream(api_keys=("sk-test",), azure_entra_tokens=("eyJ.fake",)) as server:
        yield server


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    client = HttpTransport(UpstreamSettings())
    await client.start()
    yield client
    await client.aclose()


def _backend(deployment: DeploymentSettings, transport: HttpTransport) -> HttpBackend:
    info = DeploymentInfo("gpt-4o", "azure_openai", deployment.model, None, 0)
    return HttpBackend(
        info=info,
        adapter=AzureOpenAIAdapter(deployment),
        signer=build_signer(deployment),
        transport=transport,
        timeouts=UpstreamTimeouts(),
    )


@pytest.mark.parametrize("api", ["deployments", "v1"])
async def test_fake_azure_answers_a_chat(
    api: str, fake: FakeUpstream, transport: HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_KEY", "sk-test")
    backend = _backend(_deployment(base_url=fake.azure_endpoint, api=api), transport)

    reply = await backend.complete(Operation.CHAT, dict(CHAT))

    body = json.loads(reply.body)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0


async def test_fake_azure_stream_with_entra_token_ends_complete(
    fake: FakeUpstream, transport: HttpTransport, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("eyJ.fake")
    deployment = _deployment(
        base_url=fake.azure_endpoint,
        auth="entra_id",
        credential_env=None,
        credential_file=str(token),
    )
    backend = _backend(deployment, transport)

    pieces = [piece async for piece in backend.stream(Operation.CHAT, dict(CHAT))]

    chunks = [json.loads(p.data) for p in pieces]
    assert all(chunk.get("prompt_filter_results") is None for chunk in chunks)
    assert sum(p.finished_choices for p in pieces) == 1
    assert pieces[-1].usage_only
    assert chunks[-1]["choices"] == []
    assert fake.received[-1].auth == "bearer"
    assert fake.received[-1].auth_ok
