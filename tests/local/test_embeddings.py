"""The local MiniLM embeddings: 384 unit vectors, sensible similarity, base64, real usage."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from tokenizers import Tokenizer

from tenantgate.errors import UnsupportedParameter
from tenantgate.local.embedding_backend import LocalEmbeddingBackend
from tenantgate.local.model_files import MINILM_L6_V2_INT8, locate_builtin
from tenantgate.providers.base import Operation

TEXTS = [
    "How do I reset my password?",
    "Steps to change a forgotten account password",
    "The giraffe is the tallest living land animal.",
]


async def _vectors(backend: LocalEmbeddingBackend, **body: object) -> tuple[np.ndarray, dict]:
    reply = await backend.complete(Operation.EMBEDDING, {"model": "all-minilm-l6-v2", **body})
    answer = json.loads(reply.body)
    rows = [d["embedding"] for d in answer["data"]]
    if body.get("encoding_format") == "base64":
        rows = [np.frombuffer(base64.b64decode(r), dtype="<f4") for r in rows]
    return np.array(rows, dtype=np.float32), answer


async def test_related_sentences_are_closer_than_unrelated(
    embeddings: LocalEmbeddingBackend,
) -> None:
    vectors, answer = await _vectors(embeddings, input=TEXTS)
    assert answer["object"] == "list"
    assert answer["model"] == "all-minilm-l6-v2"
    assert [d["index"] for d in answer["data"]] == [0, 1, 2]
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    related, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert related > 0.6
    assert unrelated < 0.2


async def test_base64_decodes_to_the_float_vectors(embeddings: LocalEmbeddingBackend) -> None:
    floats, _ = await _vectors(embeddings, input=TEXTS)
    decoded, _ = await _vectors(embeddings, input=TEXTS, encoding_format="base64")
    assert np.array_equal(floats, decoded)


async def test_usage_counts_real_tokens_without_padding(embeddings: LocalEmbeddingBackend) -> None:
    _, answer = await _vectors(embeddings, input=TEXTS)
    tokenizer = Tokenizer.from_file(str(locate_builtin(MINILM_L6_V2_INT8).tokenizer_path))
    tokenizer.no_padding()  # the shipped tokenizer.json pads every input to 128
    expected = sum(len(tokenizer.encode(t).ids) for t in TEXTS)
    assert answer["usage"] == {"prompt_tokens": expected, "total_tokens": expected}


async def test_batches_do_not_change_a_vector(embeddings: LocalEmbeddingBackend) -> None:
    many = [f"sentence number {i} about {'cats ' * (i % 7)}" for i in range(70)]
    many[69] = many[0]
    vectors, answer = await _vectors(embeddings, input=many)
    single, _ = await _vectors(embeddings, input=many[0])
    assert len(answer["data"]) == 70
    assert np.allclose(vectors[0], vectors[69], atol=1e-5)
    assert np.allclose(vectors[0], single[0], atol=1e-5)


@pytest.mark.parametrize(
    ("body", "param"),
    [({"input": [1, 2, 3]}, "input"), ({"input": "hi", "dimensions": 256}, "dimensions")],
)
async def test_token_inputs_and_other_dimensions_are_refused(
    embeddings: LocalEmbeddingBackend, body: dict[str, object], param: str
) -> None:
    with pytest.raises(UnsupportedParameter) as refused:
        await embeddings.complete(Operation.EMBEDDING, {"model": "m", **body})
    assert refused.value.param == param
