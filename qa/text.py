"""Words as retrieval and answering see them: tokens, stopwords, stems and IDF term weights."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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

# Runs of letters and digits, as SQLite FTS5's unicode61 tokenizer cuts them.
_TOKEN = re.compile(r"[^\W_]+")


def terms(text: str) -> list[str]:
    """Lower-cased word tokens as the lexical index sees them."""
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


class TermStatistics(Protocol):
    """Where document frequencies come from: the lexical index of the corpus."""

    def document_frequencies(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each word, and how many chunks there are."""
        ...


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


def term_weights(statistics: TermStatistics, text: str) -> TermWeights:
    """IDF of each content-word stem of `text`, a stem's document frequency being its most frequent variant's."""
    roots = list(dict.fromkeys(stem(t) for t in content_terms(text)))
    variants = {root: stem_variants(root) for root in roots}
    frequencies, total = statistics.document_frequencies(sorted({v for group in variants.values() for v in group}))
    counts = {root: max(frequencies.get(v, 0) for v in group) for root, group in variants.items()}
    idf = {root: math.log(1 + (total - n + 0.5) / (n + 0.5)) for root, n in counts.items()}
    return TermWeights(idf, frozenset(root for root, n in counts.items() if n > 0))
