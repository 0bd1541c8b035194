"""Deployment defaults fill only what a request leaves out (pure, no model needed)."""

from __future__ import annotations

from tenantgate.local.generation_request import GenerationDefaults, parse_generation_request
from tenantgate.providers.base import Operation

DEFAULTS = GenerationDefaults(system_prompt="Be brief.", temperature=0.0, top_p=0.9)


def _chat(**extra: object) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": "Hi"}], **extra}


def test_deployment_system_prompt_opens_a_transcript_without_one() -> None:
    request = parse_generation_request(Operation.CHAT, _chat(), DEFAULTS)
    assert request.messages == (("system", "Be brief."), ("user", "Hi"))


def test_callers_system_message_replaces_the_deployment_prompt() -> None:
    body = {"model": "m", "messages": [{"role": "developer", "content": "Be verbose."},
                                       {"role": "user", "content": "Hi"}]}
    request = parse_generation_request(Operation.CHAT, body, DEFAULTS)
    assert request.messages == (("system", "Be verbose."), ("user", "Hi"))


def test_omitted_sampling_takes_the_deployment_defaults() -> None:
    request = parse_generation_request(Operation.CHAT, _chat(), DEFAULTS)
    assert (request.sampling.temperature, request.sampling.top_p) == (0.0, 0.9)


def test_requests_own_sampling_wins_over_the_defaults() -> None:
    request = parse_generation_request(Operation.CHAT, _chat(temperature=1.3, top_p=0.5), DEFAULTS)
    assert (request.sampling.temperature, request.sampling.top_p) == (1.3, 0.5)


def test_without_deployment_defaults_openai_semantics_hold() -> None:
    request = parse_generation_request(Operation.CHAT, _chat())
    assert request.messages == (("user", "Hi"),)
    assert (request.sampling.temperature, request.sampling.top_p) == (1.0, 1.0)


def test_completions_never_get_a_system_prompt() -> None:
    request = parse_generation_request(Operation.COMPLETION, {"model": "m", "prompt": "Hi"}, DEFAULTS)
    assert request.prompt == "Hi"
    assert request.messages == ()
