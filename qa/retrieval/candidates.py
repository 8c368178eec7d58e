"""The two first-stage rankings: nearest chunk vectors (dense) and BM25 over chunk words (lexical)."""

from __future__ import annotations

import numpy as np

from ..lexical import LexicalIndex
from ..text import content_terms
from ..vectors import VectorIndex


def dense_candidates(vectors: VectorIndex, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(chunk id, cosine) of the k chunks nearest in meaning, best first."""
    return vectors.search(query_vector, k)


def lexical_candidates(lexical: LexicalIndex, query: str, k: int) -> list[tuple[int, float]]:
    """(chunk id, BM25) of the k chunks best matching the query's content words, best first."""
    return lexical.search(content_terms(query), k)
