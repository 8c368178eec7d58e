"""Words as retrieval and answering see them: tokens, stopwords, stems and IDF term weights.

IDF comes from the indexed corpus blended with background English word frequencies (the `wordfreq`
package), so a one-document index weighs words as a large one would.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .config import WordSettings

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves also did does say said tell told many much
    s t d ll m re ve doesn didn isn wasn aren weren hasn haven hadn wouldn shouldn couldn
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


# Answering stems every word of ~200 candidate sentences per question (23 ms a question at 1M
# chunks before this cache); a text's vocabulary is small next to that traffic.
@functools.lru_cache(maxsize=1 << 16)
def stem(term: str) -> str:
    """`term` without one common English ending ("protesting", "protests" -> "protest")."""
    for suffix in _SUFFIXES:
        if len(term) > len(suffix) + 3 and term.endswith(suffix):
            return term[: -len(suffix)]
    return term


# Re-ranking and answer building both weigh the same ~200 candidate sentences of a question.
@functools.lru_cache(maxsize=4096)
def stems(text: str) -> frozenset[str]:
    """The distinct stems of `text`'s word tokens."""
    return frozenset(stem(t) for t in terms(text))


def stem_variants(root: str) -> list[str]:
    """Every word `stem` maps to `root` that differs from it by one listed ending, and `root` itself."""
    return [root] + [root + suffix for suffix in _SUFFIXES if stem(root + suffix) == root]


class TermStatistics(Protocol):
    """Where document frequencies come from: the lexical index of the corpus."""

    def document_frequencies(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each word, and how many chunks there are."""
        ...


class EnglishFrequencies:
    """How often each word occurs in English at large (`wordfreq`'s English list): the background a
    small corpus is weighed against. The table loads once per process (0.2 s quiet, ~2-3 s under load),
    so `QA` starts `load` in a thread at start-up rather than on the first question."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = False

    def load(self) -> None:
        """Load the English table; later calls return at once (a question arriving meanwhile waits for it)."""
        with self._lock:
            if not self._loaded:
                import wordfreq

                wordfreq.word_frequency("the", "en")
                self._loaded = True

    def frequency(self, word: str) -> float:
        """Share of English running words that are `word` (0.0 for a word English does not know)."""
        if not self._loaded:
            self.load()
        return _english_frequency(word)


ENGLISH = EnglishFrequencies()


@dataclass(frozen=True)
class TermWeights:
    """IDF weights of a question's content-word stems, and which of them count as covered by the corpus."""

    idf: dict[str, float]
    # Stems the corpus holds, or that English does not know either (a typo, a code: no evidence either way).
    known: frozenset[str]
    # Stems neither the corpus nor English knows.
    unfamiliar: frozenset[str] = frozenset()
    # Chunks in the index the weights were computed over.
    chunks: int = 0

    def overlap(self, text: str) -> float:
        """Share of the question's IDF weight whose stems occur in `text`."""
        present = stems(text)
        return sum(v for t, v in self.idf.items() if t in present) / (sum(self.idf.values()) or 1.0)

    @property
    def coverage(self) -> float:
        """Share of the question's IDF weight that the corpus holds at all (1.0 for no content words)."""
        return self._share(self.known, 1.0)

    @property
    def unfamiliar_share(self) -> float:
        """Share of the question's IDF weight on words neither the corpus nor English knows."""
        return self._share(self.unfamiliar, 0.0)

    def _share(self, chosen: frozenset[str], empty: float) -> float:
        total = sum(self.idf.values())
        return sum(v for t, v in self.idf.items() if t in chosen) / total if total else empty


def term_weights(statistics: TermStatistics, text: str, settings: WordSettings, english: EnglishFrequencies = ENGLISH) -> TermWeights:
    """IDF of each content-word stem of `text`, a stem's document frequency being its most frequent variant's.

    The corpus's chunks are pooled with `settings.background_chunks` chunks of ordinary English, in
    which a word of frequency f appears in a share 1 - exp(-words_per_chunk * f) of them: a word the
    document lacks but English uses everywhere ("begin") is no longer the rarest word of the question."""
    roots = list(dict.fromkeys(stem(t) for t in content_terms(text)))
    variants = {root: stem_variants(root) for root in roots}
    frequencies, total = statistics.document_frequencies(sorted({v for group in variants.values() for v in group}))
    background, per_chunk = settings.background_chunks, settings.words_per_chunk
    idf, known, unfamiliar = {}, set(), set()
    for root, group in variants.items():
        n = max(frequencies.get(v, 0) for v in group)
        common = max(english.frequency(v) for v in group)
        blended = n + background * (1 - math.exp(-per_chunk * common))
        idf[root] = math.log(1 + (total + background - blended + 0.5) / (blended + 0.5))
        if n > 0 or common == 0:
            known.add(root)
        if n == 0 and common == 0:
            unfamiliar.add(root)
    return TermWeights(idf, frozenset(known), frozenset(unfamiliar), total)


@functools.lru_cache(maxsize=1 << 16)
def _english_frequency(word: str) -> float:
    # wordfreq re-tokenizes its argument on every call (44 µs; ~30 calls a question, each stem variant).
    import wordfreq

    return float(wordfreq.word_frequency(word, "en"))
