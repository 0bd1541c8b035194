"""Prompt bounds: exact-ish for OpenAI encodings, never below the truth for any tokenizer."""

from __future__ import annotations

import toktok
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantgate.credits.prompt_tokens import (
    _ONE_TOKEN_ROLES,
    chat_prompt_tokens,
    encoding_for,
    text_prompt_tokens,
)

HI = {"messages": [{"role": "system", "content": "You are helpful."},
                   {"role": "user", "content": "What is the capital of France?"}]}


def test_openai_models_map_to_their_encodings():
    assert encoding_for("gpt-4o-mini") == "o200k_base"
    assert encoding_for("openai.gpt-oss-120b") == "o200k_base"
    assert encoding_for("o3-mini") == "o200k_base"
    assert encoding_for("gpt-4-turbo") == "cl100k_base"
    assert encoding_for("meta.llama-3.3-70b-instruct") is None


def test_an_openai_chat_prompt_is_counted_like_the_cookbook_plus_a_small_margin():
    texts = ["system", "You are helpful.", "user", "What is the capital of France?"]
    cookbook = sum(toktok.batch_count(texts, "o200k_base")) + 3 * 2 + 3
    bound = chat_prompt_tokens(HI, "gpt-4o-mini")
    assert cookbook <= bound <= cookbook * 1.05 + 2


def test_unknown_tokenizers_are_bounded_by_bytes_and_template_overhead():
    assert chat_prompt_tokens(HI, "meta.llama-3.3-70b-instruct") >= len("You are helpful.What is the capital of France?")


def test_images_tools_and_schemas_are_charged():
    plain = chat_prompt_tokens(HI, "gpt-4o")
    with_image = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is the capital of France?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}
    assert chat_prompt_tokens(with_image, "gpt-4o") >= 2000
    tools = {**HI, "tools": [{"type": "function", "function": {"name": "weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]}
    assert chat_prompt_tokens(tools, "gpt-4o") > plain


@settings(deadline=None)  # the first call loads the tokenizer
@given(st.lists(st.text(min_size=0, max_size=200), min_size=1, max_size=5))
def test_a_byte_bound_is_never_below_the_real_token_count_of_any_bpe(texts):
    body = {"messages": [{"role": "user", "content": text} for text in texts]}
    real = sum(toktok.batch_count(texts, "cl100k_base"))
    assert chat_prompt_tokens(body, "some-local-model") >= real
    assert text_prompt_tokens(texts, "some-local-model") >= real


def test_embedding_inputs_count_strings_and_token_id_arrays():
    assert text_prompt_tokens("hello world", "text-embedding-3-small") >= 2
    assert text_prompt_tokens([[1, 2, 3], [4, 5]], "text-embedding-3-small") >= 5
    assert text_prompt_tokens([1, 2, 3], "text-embedding-3-small") >= 3


def test_role_names_counted_as_one_token_are_one_token_in_both_encodings():
    for encoding in ("o200k_base", "cl100k_base"):
        assert toktok.batch_count(sorted(_ONE_TOKEN_ROLES), encoding) == [1] * len(_ONE_TOKEN_ROLES)


def test_every_message_field_and_content_part_is_counted():
    body = {"messages": [
        {"role": "user", "name": "alice", "content": [{"type": "text", "text": "one two three"}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]}
    texts = ["user", "alice", "one two three", "assistant", "tool", "c1", "42",
             '[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]']
    cookbook = sum(toktok.batch_count(texts, "o200k_base")) + 3 * 3 + 3
    assert cookbook <= chat_prompt_tokens(body, "gpt-4o") <= cookbook * 1.05 + 2
