"""Extractive answers: the best verbatim sentences of the retrieved passages, each with its citation."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..config import AnswerSettings
from ..models import Answer, Citation, Passage, Segment
from ..text import TermWeights, terms
from .confidence import Calibration, features
from .sentences import ScoredSentence, score_sentences
from .short_answer import short_answer

NOT_FOUND = "I couldn't find this in the documents."


@dataclass
class Draft:
    """The answer the best sentences make before the abstain decision, with the figures behind it."""

    chosen: list[ScoredSentence]
    # Calibrated probabilities: the drafted answer holds the answer (`confidence`); the question is
    # answerable from these documents (`scope`, what the abstain decision reads).
    confidence: float
    scope: float
    features: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The drafted sentences without citation marks (what a reader would get if it were given)."""
        return " ".join(s.text for s in self.chosen)


class Answerer:
    """Composes a cited extractive answer from retrieved passages (it never reads the store)."""

    def __init__(self, settings: AnswerSettings, calibration: Calibration | None = None) -> None:
        self.settings = settings
        self.calibration = calibration or Calibration.load()

    def draft(self, query_vector: np.ndarray, passages: list[Passage], words_from: str, weights: TermWeights) -> Draft:
        """The best sentences and their calibrated probabilities, whether or not they will be given.

        Word overlap follows `words_from` with its `weights` (the question's own words when it has
        some: a follow-up's words say what it wants); meaning follows the resolved query vector."""
        scored = score_sentences(words_from, query_vector, passages, weights, self.settings)
        values = features(words_from, scored, passages, weights)
        confidence = round(self.calibration.correct.probability(values), 4)
        scope = round(self.calibration.scope.probability(values), 4)
        chosen = self._extra_sentences(scored[0], scored[1:]) if scored else []
        return Draft(chosen, confidence, scope, values)

    def decide(self, question: str, query: str, passages: list[Passage], draft: Draft) -> Answer:
        """The draft given with its citations, or declined when the question does not look answerable here.

        `question` is asked; `query` is its follow-up-resolved text."""
        if not draft.chosen or draft.scope < self.settings.abstain_threshold:
            return self._abstain(question, passages, draft.confidence)
        chosen = draft.chosen
        citations, numbers = self._citations(passages, chosen)
        segments = [
            Segment(s.text, numbers[s.passage_index], passages[s.passage_index].doc_id, s.start, s.end) for s in chosen
        ]
        text = " ".join(f"{s.text} [{s.n}]" for s in segments)
        short = short_answer(question, chosen[0].text, query) if draft.confidence >= self.settings.short_answer_confidence else None
        return Answer(question, text, short, False, draft.confidence, citations, segments=segments)

    def _extra_sentences(self, best: ScoredSentence, others: list[ScoredSentence]) -> list[ScoredSentence]:
        """The best sentence, then up to max_sentences - 1 others scoring close enough to it."""
        chosen = [best]
        remaining = list(others)
        while remaining and len(chosen) < self.settings.max_sentences:
            lifted = partial(self._lifted, cited={s.passage_index for s in chosen})
            candidate = max(remaining, key=lifted)
            remaining.remove(candidate)
            if lifted(candidate) < best.score * self.settings.extra_sentence_ratio:
                break
            if not any(terms(candidate.text) == terms(c.text) for c in chosen):
                chosen.append(candidate)
        return chosen

    def _lifted(self, sentence: ScoredSentence, cited: set[int]) -> float:
        """A sentence's score with the bonus for coming from a passage the answer already cites."""
        return sentence.score + self.settings.same_passage_bonus * (sentence.passage_index in cited)

    def _citations(self, passages: list[Passage], chosen: list[ScoredSentence]) -> tuple[list[Citation], dict[int, int]]:
        """Cited passages first, numbered in order of use, then the other retrieved passages."""
        numbers: dict[int, int] = {}
        for sentence in chosen:
            numbers.setdefault(sentence.passage_index, len(numbers) + 1)
        for index in range(len(passages)):
            numbers.setdefault(index, len(numbers) + 1)
        citations = []
        for index, n in sorted(numbers.items(), key=lambda item: item[1]):
            highlights = [[s.start, s.end] for s in chosen if s.passage_index == index]
            citations.append(_citation(n, passages[index], highlights))
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
