"""How many tokens can a request's prompt be? A count where we have the tokenizer, a bound otherwise.

Holds must never be too small, so this errs upward:

* OpenAI models (``gpt-4o``, ``o3``, ``gpt-4.1``… → o200k; ``gpt-4``, ``gpt-3.5`` → cl100k)
  are counted with their own encoding (``toktok``, offline), plus OpenAI's per-message
  framing (3 tokens a message, 3 to prime the reply) and a margin.
* Any other model is bounded by UTF-8 bytes: every token of a byte-level BPE or
  byte-fallback SentencePiece vocabulary covers at least one byte, so bytes ≥ tokens,
  plus a generous per-message allowance for chat-template tokens.

Images, audio and files are not tokenized; each such part is charged a fixed allowance
(``_MEDIA_PART_TOKENS``) that covers OpenAI's largest high-detail image.
Tool definitions and ``response_format`` schemas count as their JSON text.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import toktok

_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")
_CL100K_PREFIXES = ("gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada")
_OPENAI_MESSAGE_TOKENS = 3
_OPENAI_REPLY_TOKENS = 3
_TEMPLATE_TOKENS_PER_MESSAGE = 16  # generous: covers chat templates' role and separator tokens
_MEDIA_PART_TOKENS = 2_000
_MARGIN = 1.02  # tokenizer versions differ a little; stay on the safe side

_encode_json = msgspec.json.Encoder().encode


@functools.lru_cache(maxsize=1024)
def encoding_for(model: str) -> str | None:
    """The OpenAI encoding an upstream model name uses, or None if it is not an OpenAI model."""
    name = model.rsplit("/", 1)[-1].lower()
    name = name.removeprefix("openai.")
    if name.startswith(_O200K_PREFIXES):
        return "o200k_base"
    if name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return None


_CACHED_TEXTS = 4096
_CACHED_TEXT_CHARS = 2048
"""Texts up to this long have their counts remembered (``_counter``): roles, system prompts and
earlier turns of a conversation come back on every request. At most ~8 M characters stay referenced."""


@functools.cache
def _counter(encoding: str) -> Callable[[str], int]:
    """A per-text counter for ``encoding``, remembering the counts of short texts.

    ``toktok.batch_count`` starts worker threads on every call (250 to 500 us, measured),
    which is more than a whole request costs; its tokenizer object counts one text in about
    a microsecond. That object is not public API, so fall back to ``batch_count`` if it goes.
    """
    count: Callable[[str], int] = lambda text: int(toktok.batch_count([text], encoding, threads=1)[0])  # noqa: E731
    tokenizer = getattr(toktok, "_encoding", None)
    if tokenizer is not None:
        with contextlib.suppress(Exception):
            direct: Callable[[str], int] = tokenizer(encoding).count
            direct("probe")
            count = direct
    remembered = functools.lru_cache(maxsize=_CACHED_TEXTS)(count)

    def counted(text: str) -> int:
        return remembered(text) if len(text) <= _CACHED_TEXT_CHARS else count(text)

    return counted


def _counter_for(encoding: str | None) -> Callable[[str], int]:
    """The encoding's counter, or the UTF-8 byte bound when the model's tokenizer is unknown."""
    return _counter(encoding) if encoding is not None else _utf8_length


def _count(texts: list[str], encoding: str | None) -> int:
    if not texts:
        return 0
    count = _counter_for(encoding)
    return sum([count(text) for text in texts])


def _utf8_length(text: str) -> int:
    """Bytes bound tokens for any byte-level tokenizer (no token is shorter than a byte)."""
    return len(text.encode("utf-8", "surrogatepass"))


def chat_prompt_tokens(body: dict[str, Any], model: str) -> int:
    """An upper bound of the prompt tokens of a chat request to ``model`` (upstream name).

    Runs on every metered chat request, so it adds as it walks instead of collecting texts:
    OpenAI's role names are one token each in both encodings, and other texts go through the
    counter (which remembers short ones).
    """
    encoding = encoding_for(model)
    count = _counter_for(encoding)
    total = media = 0
    messages = body.get("messages") or []
    for message in messages:
        if not isinstance(message, dict):
            total += count(_encode_json(message).decode())
            continue
        for key, value in message.items():
            if key == "content":
                if isinstance(value, str):
                    total += count(value)
                elif value is not None:
                    texts: list[str] = []
                    media += _collect_content(value, texts)
                    total += _count(texts, encoding)
            elif key == "role" and encoding is not None and value in _ONE_TOKEN_ROLES:
                total += 1
            else:  # role, name, tool_calls, tool_call_id: counted as OpenAI's cookbook does
                total += count(value if isinstance(value, str) else _encode_json(value).decode())
    for key in ("tools", "functions", "response_format", "tool_choice"):
        if body.get(key) is not None:
            total += count(_encode_json(body[key]).decode())
    per_message = _OPENAI_MESSAGE_TOKENS if encoding else _TEMPLATE_TOKENS_PER_MESSAGE
    framing = per_message * len(messages) + _OPENAI_REPLY_TOKENS
    return int((total + framing) * _MARGIN) + 1 + media * _MEDIA_PART_TOKENS


_ONE_TOKEN_ROLES = frozenset({"system", "user", "assistant", "tool", "developer", "function"})
"""Each is a single token in o200k and in cl100k (checked by the tests)."""


def _collect_content(content: Any, texts: list[str]) -> int:
    """Append the text of a message's content; return how many media parts it had."""
    if isinstance(content, str):
        texts.append(content)
        return 0
    media = 0
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict) and part.get("type") in ("image_url", "input_audio", "file", "image"):
            media += 1
        elif part is not None:
            texts.append(_encode_json(part).decode())
    return media


def text_prompt_tokens(prompt: Any, model: str) -> int:
    """An upper bound of the tokens of a completions ``prompt`` or embeddings ``input``.

    Inputs already given as token ids count one per id.
    """
    encoding = encoding_for(model)
    texts: list[str] = []
    ids = 0
    for item in _items(prompt):
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, int):
            ids += 1
        elif isinstance(item, list):
            ids += len(item)
    return int(_count(texts, encoding) * _MARGIN) + ids + 1


def _items(prompt: Any) -> Iterable[Any]:
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list):
        return prompt
    return [] if prompt is None else [_encode_json(prompt).decode()]
