"""The pure map of indexing: documents -> chunks, sentences and their vectors. No store, no side effects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..chunking import chunk_document
from ..config import ChunkingSettings
from ..encoders import Encoder
from ..models import Document, PreparedDocument

# Titles longer than this are cut in the embedded text so they never crowd out the chunk itself.
MAX_TITLE_CHARS = 200


def chunk_prefix(title: str, chunking: ChunkingSettings) -> str:
    """What is embedded before each chunk's text: the (cut) title, when titles are embedded."""
    title = title[:MAX_TITLE_CHARS]
    return f"{title}. " if chunking.title_in_chunk and title else ""


def prepare(documents: Sequence[Document], encoder: Encoder, chunking: ChunkingSettings) -> list[PreparedDocument]:
    """Split and embed documents (outside any transaction, so readers are never blocked)."""
    plans = []
    chunk_texts: list[str] = []
    sentence_texts: list[str] = []
    for doc in documents:
        prefix = chunk_prefix(doc.title, chunking)
        budget = encoder.chunk_budget - (encoder.count_tokens([prefix])[0] if prefix else 0)
        chunks = chunk_document(doc, encoder.count_tokens, max(16, min(chunking.max_tokens, budget)), chunking.overlap_sentences)
        spans = sorted({(s.start, s.end) for chunk in chunks for s in chunk.sentences})
        plans.append((doc, chunks, len(chunk_texts), len(sentence_texts), spans))
        chunk_texts.extend(prefix + chunk.text for chunk in chunks)
        sentence_texts.extend(doc.text[s:e] for s, e in spans)
    chunk_vectors = encoder.encode(chunk_texts)
    sentence_vectors = encoder.encode(sentence_texts)
    return [
        PreparedDocument(
            document=doc,
            chunks=chunks,
            chunk_vectors=np.ascontiguousarray(chunk_vectors[chunk_at : chunk_at + len(chunks)]),
            sentence_spans=spans,
            sentence_vectors=sentence_vectors[sentence_at : sentence_at + len(spans)],
        )
        for doc, chunks, chunk_at, sentence_at, spans in plans
    ]
