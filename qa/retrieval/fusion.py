"""Rankings combined into one by weighted reciprocal rank (RRF), or one ranking alone."""

from __future__ import annotations

from ..config import FusionMode, FusionSettings

Ranking = list[tuple[int, float]]


def fuse(dense: Ranking, lexical: Ranking, settings: FusionSettings) -> Ranking:
    """One ranking of chunk ids: each list votes weight / (rrf_k + rank) for its chunks."""
    votes = {
        FusionMode.RRF: ((settings.dense_weight, dense), (settings.lexical_weight, lexical)),
        FusionMode.DENSE: ((1.0, dense),),
        FusionMode.LEXICAL: ((1.0, lexical),),
    }[settings.mode]
    scores: dict[int, float] = {}
    for weight, ranking in votes:
        for rank, (chunk_id, _) in enumerate(ranking, 1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (settings.rrf_k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def prefer(ranking: Ranking, documents: dict[int, str], preferred: frozenset[str], bonus: float) -> Ranking:
    """`ranking` with `bonus` added to the chunks (chunk id -> doc id in `documents`) of the preferred documents."""
    rescored = [(chunk_id, score + bonus * (documents.get(chunk_id) in preferred)) for chunk_id, score in ranking]
    return sorted(rescored, key=lambda item: (-item[1], item[0]))
