"""Every sentence of the top passages scored against the question: meaning, word overlap, answer type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import AnswerSettings
from ..models import Passage
from ..text import TermWeights
from .question_types import PATTERNS, question_type


@dataclass
class ScoredSentence:
    """One candidate answer sentence and why it scored as it did."""

    passage_index: int
    start: int
    end: int
    text: str
    score: float
    cosine: float
    overlap: float


def score_sentences(words_from: str, query_vector: np.ndarray, passages: list[Passage], weights: TermWeights,
                    settings: AnswerSettings) -> list[ScoredSentence]:
    """Every sentence of the top passages scored by meaning and IDF-weighted (stemmed) word overlap, best first."""
    weight = settings.dense_weight
    # Only dates and numbers: nearly every sentence holds a capitalised name, so names say little.
    kind = question_type(words_from)
    wanted = PATTERNS[kind] if kind in ("date", "number") else None
    scored: list[ScoredSentence] = []
    seen: set[tuple[str, int]] = set()
    for index, passage in enumerate(passages[: settings.passages_considered]):
        for sentence in passage.sentences:
            if (passage.doc_id, sentence.start) in seen:
                continue
            seen.add((passage.doc_id, sentence.start))
            text = passage.sentence_text(sentence)
            overlap = weights.overlap(text)
            cosine = float(np.dot(sentence.vector, query_vector))
            score = weight * cosine + (1 - weight) * overlap
            if wanted is not None and wanted.search(text):
                score += settings.answer_type_bonus
            scored.append(ScoredSentence(index, sentence.start, sentence.end, text, score, cosine, overlap))
    scored.sort(key=lambda s: -s.score)
    return scored
