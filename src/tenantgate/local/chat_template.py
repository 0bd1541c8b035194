"""The model's chat template from its GGUF metadata, applied as llama-cpp-python applies it.

``Llama.create_chat_completion`` renders ``tokenizer.chat_template`` with its
``Jinja2ChatFormatter`` and then tokenizes with ``add_bos = not added_special``; doing the
same here keeps our token counts identical to llama-cpp-python's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenantgate.errors import InvalidParameterValue


@dataclass(frozen=True, slots=True)
class FormattedPrompt:
    """A rendered chat prompt and whether the template already added the special tokens."""

    prompt: str
    added_special: bool


class ChatTemplate:
    """A Jinja chat template bound to a model's BOS and EOS token texts."""

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=eos_token, bos_token=bos_token
        )

    @classmethod
    def from_llama(cls, llm: Any, override: str | None = None) -> ChatTemplate | None:
        """The template of a loaded model (or the override); None when it has none."""
        template = override or llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        return cls(template, _token_text(llm, llm.token_bos()), _token_text(llm, llm.token_eos()))

    def format(self, messages: tuple[tuple[str, str], ...]) -> FormattedPrompt:
        """Render the transcript with the generation prompt for the assistant's turn."""
        from jinja2 import TemplateError

        try:
            transcript: Any = [{"role": role, "content": content} for role, content in messages]
            result = self._formatter(messages=transcript)
        except (TemplateError, ValueError) as exc:
            # Templates reject some transcripts (e.g. roles that do not alternate).
            raise InvalidParameterValue(
                f"The model's chat template rejected the messages: {exc}", param="messages"
            ) from exc
        return FormattedPrompt(result.prompt, bool(result.added_special))


def _token_text(llm: Any, token: int) -> str:
    if token < 0:
        return ""
    return str(llm.detokenize([token], special=True).decode("utf-8", errors="replace"))
