"""A third vote for the fused head: each chunk's best sentence, by meaning and IDF-weighted word overlap."""

from __future__ import annotations

import numpy as np

from ..config import RerankSettings
from ..models import Passage
from ..text import TermWeights
from .fusion import Ranking


def best_sentence_score(passage: Passage, query_vector: np.ndarray, weights: TermWeights, dense_share: float) -> float:
    """The passage's best sentence: `dense_share` of its cosine plus the rest of its word overlap."""
    top = 0.0
    for sentence in passage.sentences:
        overlap = weights.overlap(passage.sentence_text(sentence))
        top = max(top, dense_share * float(np.dot(sentence.vector, query_vector)) + (1 - dense_share) * overlap)
    return top


def rerank(fused: Ranking, head: dict[int, Passage], query_vector: np.ndarray, weights: TermWeights,
           settings: RerankSettings, rrf_k: int) -> Ranking:
    """`fused` with a reciprocal-rank vote added from the best-sentence order of its first `settings.depth` chunks."""
    best = {
        chunk_id: best_sentence_score(head[chunk_id], query_vector, weights, settings.dense_share)
        for chunk_id, _ in fused[: settings.depth]
        if chunk_id in head
    }
    order = sorted(best, key=lambda cid: -best[cid])
    vote = {cid: settings.weight / (rrf_k + rank) for rank, cid in enumerate(order, 1)}
    rescored = [(cid, score + vote.get(cid, 0.0)) for cid, score in fused]
    return sorted(rescored, key=lambda item: (-item[1], item[0]))
