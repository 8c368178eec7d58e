"""The pure map of indexing: documents -> chunks, sentences and their vectors. No store, no side effects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..chunking import chunk_document
from ..config import ChunkingSettings
from ..encoders import Encoder
from ..encoders.pooling import normalize
from ..models import Document, PreparedDocument

# Titles longer than this are cut in the embedded text so they never crowd out the chunk itself.
MAX_TITLE_CHARS = 200


def chunk_prefix(title: str, chunking: ChunkingSettings) -> str:
    """What is embedded before each chunk's text: the (cut) title, when titles are embedded."""
    title = title[:MAX_TITLE_CHARS]
    return f"{title}. " if chunking.title_in_chunk and title else ""


def prepare(documents: Sequence[Document], encoder: Encoder, chunking: ChunkingSettings) -> list[PreparedDocument]:
    """Split and embed documents (outside any transaction, so readers are never blocked).

    One forward pass per chunk gives its vector and its sentences' vectors (pooled over each
    sentence's tokens); a sentence two chunks share gets the mean of both."""
    plans = []
    chunk_texts: list[str] = []
    chunk_spans: list[list[tuple[int, int]]] = []
    for doc in documents:
        prefix = chunk_prefix(doc.title, chunking)
        budget = encoder.chunk_budget - (encoder.count_tokens([prefix])[0] if prefix else 0)
        chunks = chunk_document(doc, encoder.count_tokens, max(16, min(chunking.max_tokens, budget)), chunking.overlap_sentences)
        plans.append((doc, chunks, len(chunk_texts)))
        chunk_texts.extend(prefix + chunk.text for chunk in chunks)
        # Sentence spans as character offsets into the embedded text (prefix + chunk).
        chunk_spans.extend(
            [(len(prefix) + s.start - chunk.start, len(prefix) + s.end - chunk.start) for s in chunk.sentences] for chunk in chunks
        )
    chunk_vectors, pooled = encoder.encode_with_spans(chunk_texts, chunk_spans)
    prepared = []
    for doc, chunks, chunk_at in plans:
        spans = sorted({(s.start, s.end) for chunk in chunks for s in chunk.sentences})
        row = {span: i for i, span in enumerate(spans)}
        sums = np.zeros((len(spans), encoder.dimension), dtype=np.float32)
        for offset, chunk in enumerate(chunks):
            for sentence, vector in zip(chunk.sentences, pooled[chunk_at + offset], strict=True):
                sums[row[(sentence.start, sentence.end)]] += vector
        prepared.append(
            PreparedDocument(
                document=doc,
                chunks=chunks,
                chunk_vectors=np.ascontiguousarray(chunk_vectors[chunk_at : chunk_at + len(chunks)]),
                sentence_spans=spans,
                sentence_vectors=normalize(sums),
            )
        )
    return prepared
