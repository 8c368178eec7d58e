"""Hybrid retrieval: dense and lexical candidates, fused, the head re-ranked by sentence, cited passages out."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from ..config import Settings
from ..models import Passage, page_at
from ..store import Store
from ..text import TermWeights, term_weights
from .candidates import dense_candidates, lexical_candidates
from .fusion import fuse
from .rerank import rerank


class Retriever:
    """Finds the passages most likely to answer a query, each with its sentences."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.fusion = settings.fusion
        self.reranking = settings.rerank

    def search(self, query: str, top_k: int, query_vector: np.ndarray, weights: TermWeights | None = None) -> list[Passage]:
        """The top_k passages for `query` (embedded as `query_vector`), best first."""
        k = max(self.fusion.candidates, top_k)
        dense = dense_candidates(self.store.vector_snapshot(), query_vector, k)
        lexical = lexical_candidates(self.store.lexical, query, k)
        fused = fuse(dense, lexical, self.fusion)
        # Re-ranking only lifts head chunks, so the final top_k lies within this prefix: read it once.
        head = self._passages(fused[: max(self.reranking.depth, top_k)])
        if self.reranking.weight > 0:
            weights = weights or term_weights(self.store, query)
            fused = rerank(fused, head, query_vector, weights, self.reranking, self.fusion.rrf_k)
        # A chunk deleted between the search and the read is left out.
        return [replace(head[chunk_id], score=score) for chunk_id, score in fused[:top_k] if chunk_id in head]

    def _passages(self, ranked: list[tuple[int, float]]) -> dict[int, Passage]:
        rows = self.store.chunk_rows([chunk_id for chunk_id, _ in ranked])
        passages = {}
        for chunk_id, score in ranked:
            row = rows.get(chunk_id)
            if row is not None:
                passages[chunk_id] = Passage(
                    chunk_id=chunk_id, doc_id=row.doc_id, source=row.source, title=row.title, text=row.text,
                    start=row.start, end=row.end, score=score, page=page_at(json.loads(row.pages), row.start),
                    sentences=self.store.sentences_in(row.doc_id, row.start, row.end),
                )
        return passages
