"""Extractive answers: the best verbatim sentences of the retrieved passages, each with its citation."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .models import Answer, Citation, Passage
from .retrieval import TermWeights, content_terms, term_weights, terms
from .store import Store

NOT_FOUND = "I couldn't find this in the documents."

MONTH = (
    r"(?:Jan(?:uary|\.)?|Feb(?:ruary|\.)?|Mar(?:ch|\.)?|Apr(?:il|\.)?|May|June?|July?|Aug(?:ust|\.)?"
    r"|Sep(?:t(?:ember)?|\.)?\.?|Oct(?:ober|\.)?|Nov(?:ember|\.)?|Dec(?:ember|\.)?)"
)
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty"
    r"|hundreds?|thousands?|millions?|billions?|dozens?)"
)
_QUANTIFIER = r"(?:(?:more|less|fewer) than|at least|at most|nearly|about|around|approximately|almost|over|under|up to|some)\s+"
_PATTERNS = {
    "date": re.compile(
        rf"\b(?:{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{MONTH}(?:\s+\d{{4}})?|{MONTH}\s+\d{{4}}"
        rf"|(?:in\s+)?(?:1[0-9]|20)\d{{2}}s?)\b"
    ),
    "number": re.compile(
        rf"(?:{_QUANTIFIER})?(?:[$€£]\s?)?\b(?:\d[\d,]*(?:\.\d+)?|{_NUMBER_WORDS})"
        r"(?:\s+(?:million|billion|thousand|hundred|percent|per cent))?%?",
        re.IGNORECASE,
    ),
    "name": re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:of|the|de|al|bin|van|von|and)?\s*[A-Z][\w’'.-]*)*"),
}

_QUESTION_TYPES = [
    ("date", re.compile(r"^\s*(when|what (year|date|day|month|time|decade|century)|which (year|date|day|month|decade|century)|in what year)\b", re.I)),
    ("number", re.compile(r"\b(how (many|much|long|old|far|large|big|tall|high)|what (number|percentage|amount|proportion)|how often)\b", re.I)),
    ("person", re.compile(r"^\s*(who|whom|whose)\b|\b(which|what) (person|man|woman|leader|president|king|queen|author|organi[sz]ation|group|company)\b", re.I)),
    ("place", re.compile(r"^\s*where\b|\b(which|what) (city|country|place|state|region|province|town|square|continent|river)\b", re.I)),
]


def question_type(question: str) -> str | None:
    """The kind of short answer the question wants: date, number, person, place, or None."""
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


@dataclass(frozen=True)
class AnswerSettings:
    """Knobs of sentence selection and abstention."""

    abstain_threshold: float = 0.2
    max_sentences: int = 3
    passages_considered: int = 3
    # An extra sentence joins the answer only if it scores this close to the best one.
    extra_sentence_ratio: float = 0.5
    dense_weight: float = 0.5
    # Added when a sentence holds the kind of thing the question asks for (a date for "when"...).
    answer_type_bonus: float = 0.05
    # Added to an extra sentence from a passage the answer already cites: the gold passage is
    # usually the first one, so its other sentences beat similar-scoring ones from elsewhere.
    same_passage_bonus: float = 0.1
    # Confidence is the best sentence's score times the share of the question's IDF weight the
    # corpus knows: a question about a word the documents never use ("Australia") is not theirs.
    confidence_uses_coverage: bool = True


@dataclass
class ScoredSentence:
    passage_index: int
    start: int
    end: int
    text: str
    score: float
    cosine: float
    overlap: float


class Answerer:
    """Composes a cited extractive answer from retrieved passages."""

    def __init__(self, store: Store, settings: AnswerSettings | None = None) -> None:
        self.store = store
        self.settings = settings or AnswerSettings()

    def answer(self, question: str, query: str, query_vector: np.ndarray, passages: list[Passage]) -> Answer:
        """Pick answer sentences from `passages` for `question` (`query` is the follow-up-resolved text)."""
        # Word overlap follows the question itself (a follow-up's own words say what it wants);
        # meaning follows the resolved query vector.
        words_from = question if content_terms(question) else query
        weights = term_weights(self.store, words_from)
        scored = self.score_sentences(words_from, query_vector, passages, weights)
        if not scored:
            return self._abstain(question, passages, 0.0)
        best = scored[0]
        coverage = weights.coverage if self.settings.confidence_uses_coverage else 1.0
        confidence = round(min(1.0, max(0.0, best.score * coverage)), 4)
        if confidence < self.settings.abstain_threshold:
            return self._abstain(question, passages, confidence)
        chosen = self._extra_sentences(best, scored[1:])
        citations, numbers = self._citations(passages, chosen)
        text = " ".join(f"{s.text} [{numbers[s.passage_index]}]" for s in chosen)
        short = short_answer(question, best.text, query)
        return Answer(question, text, short, False, confidence, citations)

    def _extra_sentences(self, best: ScoredSentence, others: list[ScoredSentence]) -> list[ScoredSentence]:
        """The best sentence, then up to max_sentences - 1 others scoring close enough to it."""
        chosen = [best]
        remaining = list(others)
        while remaining and len(chosen) < self.settings.max_sentences:
            cited = {s.passage_index for s in chosen}

            def lifted(sentence: ScoredSentence) -> float:
                return sentence.score + self.settings.same_passage_bonus * (sentence.passage_index in cited)

            candidate = max(remaining, key=lifted)
            remaining.remove(candidate)
            if lifted(candidate) < best.score * self.settings.extra_sentence_ratio:
                break
            if not any(_same_text(candidate.text, c.text) for c in chosen):
                chosen.append(candidate)
        return chosen

    def score_sentences(
        self, words_from: str, query_vector: np.ndarray, passages: list[Passage], weights: TermWeights | None = None
    ) -> list[ScoredSentence]:
        """Every sentence of the top passages scored by meaning and IDF-weighted (stemmed) word overlap, best first."""
        weights = weights or term_weights(self.store, words_from)
        weight = self.settings.dense_weight
        # Only dates and numbers: nearly every sentence holds a capitalised name, so names say little.
        kind = question_type(words_from)
        wanted = _PATTERNS[kind] if kind in ("date", "number") else None
        scored: list[ScoredSentence] = []
        seen: set[tuple[str, int]] = set()
        for index, passage in enumerate(passages[: self.settings.passages_considered]):
            for start, end, vector in self.store.sentences_in(passage.doc_id, passage.start, passage.end):
                if (passage.doc_id, start) in seen:
                    continue
                seen.add((passage.doc_id, start))
                text = passage.text[start - passage.start : end - passage.start]
                overlap = weights.overlap(text)
                cosine = float(np.dot(vector, query_vector))
                score = weight * cosine + (1 - weight) * overlap
                if wanted is not None and wanted.search(text):
                    score += self.settings.answer_type_bonus
                scored.append(ScoredSentence(index, start, end, text, score, cosine, overlap))
        scored.sort(key=lambda s: -s.score)
        return scored

    def _citations(self, passages: list[Passage], chosen: list[ScoredSentence]) -> tuple[list[Citation], dict[int, int]]:
        """Cited passages first, numbered in order of use, then the other retrieved passages."""
        numbers: dict[int, int] = {}
        for sentence in chosen:
            numbers.setdefault(sentence.passage_index, len(numbers) + 1)
        for index in range(len(passages)):
            numbers.setdefault(index, len(numbers) + 1)
        citations = []
        for index, n in sorted(numbers.items(), key=lambda item: item[1]):
            passage = passages[index]
            highlights = [[s.start, s.end] for s in chosen if s.passage_index == index]
            citations.append(_citation(n, passage, highlights))
        return citations, numbers

    def _abstain(self, question: str, passages: list[Passage], confidence: float) -> Answer:
        citations = [_citation(n, p, []) for n, p in enumerate(passages, 1)]
        return Answer(question, NOT_FOUND, None, True, round(confidence, 4), citations)


def _citation(n: int, passage: Passage, highlights: list[list[int]]) -> Citation:
    return Citation(
        n=n,
        doc_id=passage.doc_id,
        source=passage.source,
        title=passage.title,
        passage=passage.text,
        start=passage.start,
        end=passage.end,
        highlights=highlights,
        page=passage.page,
        score=round(float(passage.score), 6),
    )


def _same_text(a: str, b: str) -> bool:
    return terms(a) == terms(b)


def short_answer(question: str, sentence: str, query: str = "") -> str | None:
    """The number, date, person or place in `sentence` that the question asks for, if one stands there."""
    kind = question_type(question)
    if kind is None:
        return None
    pattern = _PATTERNS["name" if kind in ("person", "place") else kind]
    asked = set(terms(question)) | set(terms(query))
    dates = [m.span() for m in _PATTERNS["date"].finditer(sentence)]
    candidates = []
    for match in pattern.finditer(sentence):
        start, end = match.span()
        if kind == "number" and any(a <= start and end <= b for a, b in dates):
            continue  # "6" of "Jan. 6" and a bare year are dates, not counts
        if kind in ("person", "place"):
            start = _skip_asked_words(sentence, start, end, asked)
            if match.start() == 0 and len(terms(sentence[start:end])) == 1:
                continue  # a capitalised first word is usually just the start of the sentence
            start = _skip_connectives(sentence, start, end)
        phrase = sentence[start:end].strip(" ,.")
        if kind in ("person", "place") and _NOT_A_NAME.fullmatch(phrase):
            continue
        phrase_terms = [t for t in terms(phrase) if t not in {"in", "the", "of", "and"}]
        if not phrase_terms or all(_is_asked(t, asked) for t in phrase_terms):
            continue
        # Prefer the most specific date: "Jan. 6" over a bare "2019".
        vagueness = 40 if kind == "date" and not re.search(MONTH, phrase) else 0
        candidates.append((start, end, phrase, vagueness))
    if not candidates:
        return None
    anchors = [m.start() for t in content_terms(question) for m in re.finditer(rf"\b{re.escape(t)}", sentence.lower())]

    def distance(candidate: tuple[int, int, str, int]) -> int:
        start, end, _, vagueness = candidate
        nearest = min((min(abs(a - start), abs(a - end)) for a in anchors), default=0)
        return nearest + vagueness

    return min(candidates, key=distance)[2]


# Capitalised words that are no answer to "who" or "where": nationality adjectives, months, days.
_NOT_A_NAME = re.compile(
    rf"[A-Z][a-z]+(?:ian|ean|ese|ish|ic)|(?:French|Dutch|Greek|Swiss|Thai|German|American|Roman|Arab|Norman|Huguenot)s?"
    rf"|{MONTH}|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
)
# Capitalised sentence openers a name match can start with ("Though the British" -> "British").
_CONNECTIVES = frozenset("the a an though although however after before when while in on at by for from this these its".split())


def _skip_connectives(sentence: str, start: int, end: int) -> int:
    """Move a name's start past leading connective words."""
    for word in re.finditer(r"\S+", sentence[start:end]):
        if word.group(0).lower() not in _CONNECTIVES:
            return start + word.start()
    return end


def _is_asked(term: str, asked: set[str]) -> bool:
    """A term the question already says, allowing for endings ("Iranian" for "Iran")."""
    return term in asked or any(len(a) >= 4 and (term.startswith(a) or a.startswith(term)) for a in asked)


def _skip_asked_words(sentence: str, start: int, end: int, asked: set[str]) -> int:
    """Move a name's start past leading words the question already used ("Supreme Leader" Ali Khamenei)."""
    for word in re.finditer(r"\S+", sentence[start:end]):
        if not all(_is_asked(t, asked) for t in terms(word.group(0))):
            return start + word.start()
    return end
