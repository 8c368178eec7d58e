"""Every sentence of the top passages scored against the question: meaning, word overlap, answer type."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..config import AnswerSettings
from ..models import Passage
from ..text import TermWeights
from .question_types import PATTERNS, question_type

# A leading list marker: "6.", "B.", "(iv)", "2)".
_ENUMERATOR = re.compile(r"^\s*(?:\(?[A-Za-z]\)|\(?[0-9ivxIVX]{1,4}[.)]|[A-Z]\.)\s+")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# Words that make a short line a statement rather than a label ("Cookies." vs "We use cookies."):
# auxiliaries and the usual verb endings, or a subject pronoun.
_VERBISH = re.compile(
    r"^(?:is|are|was|were|be|been|being|am|has|have|had|do|does|did|will|would|can|could|may|might|shall|should|must"
    r"|\w+ed|\w+ing|\w+s)$",
    re.IGNORECASE,
)
_SUBJECTS = frozenset("i you he she it we they there".split())
# Lines of this many words or fewer are checked for being a heading or a label.
_SHORT_LINE_WORDS = 12


def is_fragment(text: str) -> bool:
    """True for a sentence that cannot answer anything: a heading or title line, a label, a question, a bare number."""
    body = _ENUMERATOR.sub("", text.strip())
    words = _WORD.findall(body)
    if not words or body.endswith("?"):
        return True  # "6." alone, a number, or a question (a FAQ heading)
    if len(words) > _SHORT_LINE_WORDS:
        return False
    if not body.rstrip("\"'”’)]").endswith((".", "!", ";", ":")):
        return True  # a heading or title line: "COVID-19 Emergence", "Massive rallies across southern Iraq"
    # A short label without a verb: "Contact information.", "B. Personally Identifiable Information."
    # (The first word is left out of the verb test: "Cookies." is a label.)
    statement = any(w.lower() in _SUBJECTS for w in words) or any(_VERBISH.match(w) for w in words[1:])
    return len(words) <= 4 and not statement


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
            if is_fragment(text):
                continue
            overlap = weights.overlap(text)
            cosine = float(np.dot(sentence.vector, query_vector))
            score = weight * cosine + (1 - weight) * overlap
            if wanted is not None and wanted.search(text):
                score += settings.answer_type_bonus
            scored.append(ScoredSentence(index, sentence.start, sentence.end, text, score, cosine, overlap))
    scored.sort(key=lambda s: -s.score)
    return scored
