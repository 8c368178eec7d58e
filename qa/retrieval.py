"""Hybrid retrieval: FAISS dense candidates and SQLite FTS5 BM25 candidates fused into one ranking."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np

from .embedding import Embedder
from .models import Passage, page_at
from .store import ChunkRow, Store

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves also did does say said tell told many much
    """.split()
)

_TOKEN = re.compile(r"[^\W_]+")


def terms(text: str) -> list[str]:
    """Lower-cased word tokens as FTS5's unicode61 tokenizer sees them."""
    return _TOKEN.findall(text.lower())


def content_terms(text: str) -> list[str]:
    """Distinct non-stopword terms, in order of first appearance."""
    return list(dict.fromkeys(t for t in terms(text) if t not in STOPWORDS))


# Endings stripped by `stem`, first match wins; a stem keeps at least four letters ("closed",
# "closes" and "close" all become "clos").
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s", "e")


def stem(term: str) -> str:
    """`term` without one common English ending ("protesting", "protests" -> "protest")."""
    for suffix in _SUFFIXES:
        if len(term) > len(suffix) + 3 and term.endswith(suffix):
            return term[: -len(suffix)]
    return term


def stem_variants(root: str) -> list[str]:
    """Every word `stem` maps to `root` that differs from it by one listed ending, and `root` itself."""
    return [root] + [root + suffix for suffix in _SUFFIXES if stem(root + suffix) == root]


@dataclass(frozen=True)
class TermWeights:
    """IDF weights of a question's content-word stems, and which of them the indexed corpus uses."""

    idf: dict[str, float]
    known: frozenset[str]

    def overlap(self, text: str) -> float:
        """Share of the question's IDF weight whose stems occur in `text`."""
        present = {stem(t) for t in terms(text)}
        return sum(v for t, v in self.idf.items() if t in present) / (sum(self.idf.values()) or 1.0)

    @property
    def coverage(self) -> float:
        """Share of the question's IDF weight that the corpus holds at all (1.0 for no content words)."""
        total = sum(self.idf.values())
        return sum(v for t, v in self.idf.items() if t in self.known) / total if total else 1.0


def term_weights(store: Store, text: str) -> TermWeights:
    """IDF of each content-word stem of `text`, a stem's document frequency being its most frequent variant's."""
    roots = list(dict.fromkeys(stem(t) for t in content_terms(text)))
    variants = {root: stem_variants(root) for root in roots}
    frequencies, total = store.document_frequencies(sorted({v for group in variants.values() for v in group}))
    counts = {root: max(frequencies.get(v, 0) for v in group) for root, group in variants.items()}
    idf = {root: math.log(1 + (total - n + 0.5) / (n + 0.5)) for root, n in counts.items()}
    return TermWeights(idf, frozenset(root for root, n in counts.items() if n > 0))


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression OR-ing the quoted content terms (quoting defuses FTS syntax)."""
    return " OR ".join(f'"{t}"' for t in content_terms(text))


@dataclass(frozen=True)
class FusionSettings:
    """How dense and lexical rankings are combined."""

    method: str = "rrf"
    rrf_k: int = 10
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    candidates: int = 50
    # Third ranking: the fused head re-ranked by its best-matching sentence (0 turns it off).
    sentence_weight: float = 3.0
    sentence_depth: int = 30
    sentence_dense_share: float = 0.5


class Retriever:
    """Finds the passages most likely to answer a query."""

    def __init__(self, store: Store, embedder: Embedder, fusion: FusionSettings | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.fusion = fusion or FusionSettings()

    def search(self, query: str, top_k: int, query_vector: np.ndarray | None = None) -> list[Passage]:
        """The top_k fused passages for `query`, best first."""
        if query_vector is None:
            query_vector = self.embedder.encode([query])[0]
        k = max(self.fusion.candidates, top_k)
        dense = self.store.search_dense(query_vector, k)
        lexical = self.store.search_lexical(fts_query(query), k)
        fused = fuse(dense, lexical, self.fusion)
        # Re-ranking only lifts head chunks, so the final top_k lies within this prefix: read it once.
        rows = self.store.chunk_rows([chunk_id for chunk_id, _ in fused[: max(self.fusion.sentence_depth, top_k)]])
        if self.fusion.sentence_weight > 0:
            fused = self._rerank_by_sentence(query, query_vector, fused, rows)
        fused = fused[:top_k]
        dense_rank = {cid: rank for rank, (cid, _) in enumerate(dense, 1)}
        dense_score = dict(dense)
        lexical_rank = {cid: rank for rank, (cid, _) in enumerate(lexical, 1)}
        passages = []
        for chunk_id, score in fused:
            row = rows.get(chunk_id)
            if row is None:  # deleted between the search and this read
                continue
            passages.append(
                Passage(
                    chunk_id=chunk_id,
                    doc_id=row.doc_id,
                    source=row.source,
                    title=row.title,
                    text=row.text,
                    start=row.start,
                    end=row.end,
                    score=score,
                    dense_score=dense_score.get(chunk_id),
                    lexical_rank=lexical_rank.get(chunk_id),
                    dense_rank=dense_rank.get(chunk_id),
                    page=page_at(json.loads(row.pages), row.start),
                )
            )
        return passages

    def _rerank_by_sentence(
        self, query: str, query_vector: np.ndarray, fused: list[tuple[int, float]], rows: dict[int, ChunkRow]
    ) -> list[tuple[int, float]]:
        """Add a reciprocal-rank vote from each head chunk's best sentence (meaning + IDF word overlap)."""
        head = fused[: self.fusion.sentence_depth]
        weights = term_weights(self.store, query)
        share = self.fusion.sentence_dense_share
        best: dict[int, float] = {}
        for chunk_id, _ in head:
            row = rows.get(chunk_id)
            if row is None:
                continue
            top = 0.0
            for start, end, vector in self.store.sentences_in(row.doc_id, row.start, row.end):
                overlap = weights.overlap(row.text[start - row.start : end - row.start])
                top = max(top, share * float(np.dot(vector, query_vector)) + (1 - share) * overlap)
            best[chunk_id] = top
        order = sorted(best, key=lambda cid: -best[cid])
        vote = {cid: self.fusion.sentence_weight / (self.fusion.rrf_k + rank) for rank, cid in enumerate(order, 1)}
        rescored = [(cid, score + vote.get(cid, 0.0)) for cid, score in fused]
        return sorted(rescored, key=lambda item: (-item[1], item[0]))


def fuse(dense: list[tuple[int, float]], lexical: list[tuple[int, float]], settings: FusionSettings) -> list[tuple[int, float]]:
    """Combine two ranked lists by reciprocal rank or by min-max normalised weighted scores."""
    scores: dict[int, float] = {}
    if settings.method == "rrf":
        for weight, ranking in ((settings.dense_weight, dense), (settings.lexical_weight, lexical)):
            for rank, (chunk_id, _) in enumerate(ranking, 1):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (settings.rrf_k + rank)
    else:
        for weight, ranking in ((settings.dense_weight, dense), (settings.lexical_weight, lexical)):
            if not ranking:
                continue
            values = np.array([s for _, s in ranking])
            low, high = values.min(), values.max()
            span = high - low if high > low else 1.0
            for chunk_id, value in ranking:
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight * (value - low) / span
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

