"""One forward pass, two kinds of vectors: each text's mean-pooled vector and a vector per character span of it.

Indexing needs a vector per chunk and one per sentence; encoding the sentences again doubled the
encoding time. A sentence's vector is instead the mean of the chunk's token embeddings that fall
inside the sentence (the model's own mean pooling, over fewer tokens), less a share of the chunk's
own vector: tokens read in context carry the chunk's topic, which makes the sentences of one chunk
alike. Chunk vectors are identical to `encode`'s. Quality against separately encoded sentences is in
docs/performance.md ("One forward pass").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Span = tuple[int, int]
# Per batch of texts: token embeddings [texts, tokens, dim], attention mask [texts, tokens] and the
# character span of each token in its text [texts, tokens, 2] ((0, 0) for [CLS], [SEP] and padding).
TokenStates = tuple[np.ndarray, np.ndarray, np.ndarray]
# Share of the chunk's vector taken out of each pooled sentence vector. Measured with the answer
# dense weight at 0.7 (docs/performance.md): PolicyQA single-document gold in the first sentence
# 0.2136 with none taken out, 0.2256 at 0.3 (separate encodes: 0.2223); 0.5 lost SQuAD's first
# sentence (0.7725 against 0.7859 at 0.3).
CONTEXT_SHARE = 0.3


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    return vectors / np.clip(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12, None)


def mean_pool(hidden: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """The sentence-transformers mean pooling: average over real tokens, then unit length."""
    mask = attention[..., None].astype(np.float32)
    return normalize((hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)).astype(np.float32)


def encode_with_spans(
    run: Callable[[list[str]], TokenStates],
    fallback: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    dimension: int,
    batch_size: int,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each text's vector and its spans' vectors from one pass of `run` over batches of similar length.

    A span no whole token lies in (cut off by truncation) is encoded on its own by `fallback`."""
    text_vectors = np.zeros((len(texts), dimension), dtype=np.float32)
    span_vectors = [np.zeros((len(text_spans), dimension), dtype=np.float32) for text_spans in spans]
    missing: list[tuple[int, int]] = []
    # Longest first, as sentence-transformers does: padding stays small within a batch.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for first in range(0, len(order), batch_size):
        batch = order[first : first + batch_size]
        hidden, attention, offsets = run([texts[i] for i in batch])
        text_vectors[batch] = mean_pool(hidden, attention)
        for row, i in enumerate(batch):
            real = attention[row].astype(bool) & (offsets[row, :, 1] > offsets[row, :, 0])
            token_starts, token_ends = offsets[row, :, 0], offsets[row, :, 1]
            for j, (start, end) in enumerate(spans[i]):
                inside = real & (token_starts >= start) & (token_ends <= end)
                if inside.any():
                    pooled = normalize(hidden[row, inside].mean(axis=0))
                    span_vectors[i][j] = pooled - CONTEXT_SHARE * text_vectors[i]
                else:
                    missing.append((i, j))
    if missing:
        alone = fallback([texts[i][spans[i][j][0] : spans[i][j][1]] for i, j in missing])
        for (i, j), vector in zip(missing, alone, strict=True):
            span_vectors[i][j] = vector
    return text_vectors, [normalize(vectors).astype(np.float32) for vectors in span_vectors]
