"""Hybrid retrieval: dense and lexical candidates, fused, the head re-ranked by sentence, cited passages out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from ..config import Settings
from ..models import Passage
from ..text import TermWeights, content_terms, term_weights
from .candidates import DenseSearch, WordSearch, dense_candidates, lexical_candidates
from .fusion import fuse, prefer
from .rerank import rerank

# BM25 hits checked for an earlier answer's sentence: its own words put its chunk first.
QUOTE_CANDIDATES = 3


class SearchIndex(Protocol):
    """What retrieval reads: one index folder (`Store`) or shards behind a coordinator (`ShardedStore`)."""

    @property
    def lexical(self) -> WordSearch: ...

    def vector_snapshot(self) -> DenseSearch: ...

    def passages(self, ranked: Sequence[tuple[int, float]]) -> dict[int, Passage]: ...

    def document_frequencies(self, words: Sequence[str]) -> tuple[dict[str, int], int]: ...


class Retriever:
    """Finds the passages most likely to answer a query, each with its sentences."""

    def __init__(self, store: SearchIndex, settings: Settings) -> None:
        self.store = store
        self.fusion = settings.fusion
        self.reranking = settings.rerank
        self.words = settings.words

    def search(self, query: str, top_k: int, query_vector: np.ndarray, weights: TermWeights | None = None,
               focus: frozenset[str] = frozenset()) -> list[Passage]:
        """The top_k passages for `query` (embedded as `query_vector`), best first; those of the `focus`
        documents (a conversation's) get an extra vote."""
        k = max(self.fusion.candidates, top_k)
        dense = dense_candidates(self.store.vector_snapshot(), query_vector, k)
        lexical = lexical_candidates(self.store.lexical, query, k)
        fused = fuse(dense, lexical, self.fusion)
        # Re-ranking only lifts head chunks, so the final top_k lies within this prefix: read it once.
        head = self.store.passages(fused[: max(self.reranking.depth, top_k)])
        if self.reranking.weight > 0:
            weights = weights or term_weights(self.store, query, self.words)
            fused = rerank(fused, head, query_vector, weights, self.reranking, self.fusion.rrf_k)
        if focus and self.fusion.focus_weight > 0:
            documents = {chunk_id: passage.doc_id for chunk_id, passage in head.items()}
            fused = prefer(fused, documents, focus, self.fusion.focus_weight / (self.fusion.rrf_k + 1))
        dense_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(dense, 1)}
        cosine = dict(dense)
        # A chunk deleted between the search and the read is left out.
        return [
            replace(head[chunk_id], score=score, dense_rank=dense_rank.get(chunk_id), dense_score=cosine.get(chunk_id))
            for chunk_id, score in fused[:top_k]
            if chunk_id in head
        ]

    def documents_quoting(self, sentences: Sequence[str]) -> frozenset[str]:
        """The documents that hold one of `sentences` verbatim (what an earlier answer quoted)."""
        found: set[str] = set()
        for sentence in sentences:
            hits = self.store.lexical.search(content_terms(sentence), QUOTE_CANDIDATES)
            found.update(p.doc_id for p in self.store.passages(hits).values() if sentence in p.text)
        return frozenset(found)
