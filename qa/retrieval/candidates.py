"""The two first-stage rankings: nearest chunk vectors (dense) and BM25 over chunk words (lexical)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..text import content_terms


class DenseSearch(Protocol):
    """Nearest chunk vectors: a `VectorIndex`, or shards merged by score."""

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...


class WordSearch(Protocol):
    """BM25 over chunk words: a `LexicalIndex`, or shards merged by score."""

    def search(self, words: Sequence[str], k: int) -> list[tuple[int, float]]: ...


def dense_candidates(vectors: DenseSearch, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(chunk id, cosine) of the k chunks nearest in meaning, best first."""
    return vectors.search(query_vector, k)


def lexical_candidates(lexical: WordSearch, query: str, k: int) -> list[tuple[int, float]]:
    """(chunk id, BM25) of the k chunks best matching the query's content words, best first."""
    return lexical.search(content_terms(query), k)
