"""Tokens, stems and IDF term weights, with document frequencies given by hand."""

from __future__ import annotations

import math

from qa.config import WordSettings
from qa.text import ENGLISH, TermWeights, content_terms, stem, stem_variants, term_weights, terms

CORPUS_ONLY = WordSettings(background_chunks=0)


class Frequencies:
    """Term statistics of a made-up corpus of 100 chunks."""

    def __init__(self, frequencies: dict[str, int]) -> None:
        self.frequencies = frequencies

    def document_frequencies(self, words):
        return {w: self.frequencies[w] for w in words if w in self.frequencies}, 100


def test_terms_cut_like_the_lexical_index_and_keep_digits_and_accents() -> None:
    expected = ["nov", "15", "12", "000", "protesters", "in", "baṣra", "s", "streets"]
    assert terms("Nov. 15: 12,000 protesters in Baṣra's streets!") == expected
    assert content_terms("What did the protesters say about the protesters?") == ["protesters"]


def test_stems_drop_one_ending_and_keep_four_letters() -> None:
    assert stem("protesting") == stem("protests") == "protest"
    assert stem("closed") == stem("closes") == stem("close") == "clos"
    assert stem("uses") == "uses"  # too short to lose an ending
    assert "protests" in stem_variants("protest") and stem_variants("protest")[0] == "protest"


class English:
    """Background frequencies given by hand."""

    def __init__(self, frequencies: dict[str, float]) -> None:
        self.frequencies = frequencies

    def frequency(self, word: str) -> float:
        return self.frequencies.get(word, 0.0)


def test_weights_use_the_most_frequent_variant_and_know_unseen_words() -> None:
    english = English({"zanzibar": 1e-6})
    weights = term_weights(Frequencies({"protest": 2, "protests": 30, "basra": 1}), "protests in Basra and Zanzibar", CORPUS_ONLY, english)
    assert set(weights.idf) == {"protest", "basra", "zanzibar"}
    assert weights.idf["protest"] == math.log(1 + (100 - 30 + 0.5) / (30 + 0.5))
    assert weights.known == {"protest", "basra"}
    assert 0 < weights.coverage < 1


def test_background_english_weighs_a_word_the_document_lacks_as_a_large_corpus_would() -> None:
    # One chunk that holds "crisis" and "1973" but not "begin", a common English word.
    document = Frequencies({"crisis": 1, "1973": 1})
    document.document_frequencies = lambda words: ({w: 1 for w in words if w in ("crisis", "1973")}, 1)
    english = English({"crisis": 3e-5, "1973": 5e-6, "begin": 7e-5})
    alone = term_weights(document, "When did the 1973 crisis begin?", CORPUS_ONLY, english)
    blended = term_weights(document, "When did the 1973 crisis begin?", WordSettings(), english)
    assert alone.coverage < 0.5  # the lacking word outweighs every word the document holds
    assert blended.coverage > 0.7
    assert blended.idf["begin"] < blended.idf["1973"]


def test_a_misspelt_word_does_not_zero_coverage_and_is_reported_unfamiliar() -> None:
    english = English({"toxin": 1e-6, "produc": 0.0, "produce": 1e-4})
    weights = term_weights(Frequencies({"toxin": 3, "produce": 20}), "What toxin does Clodstridium produce?", WordSettings(), english)
    assert weights.unfamiliar == {"clodstridium"}
    assert weights.coverage == 1.0 and 0 < weights.unfamiliar_share < 1
    assert weights.overlap("The toxin it can produce.") > 0


def test_english_frequencies_come_from_wordfreq() -> None:
    assert ENGLISH.frequency("the") > 0.01
    assert ENGLISH.frequency("begin") > 1e-5
    assert ENGLISH.frequency("clodstridium") == 0.0


def test_overlap_is_the_share_of_idf_weight_present() -> None:
    # Weights are kept by stem: "lighthouse" and "lighthouses" are both "lighthous".
    weights = TermWeights({"lighthous": 3.0, "keeper": 1.0}, frozenset({"lighthous", "keeper"}))
    assert weights.overlap("The lighthouse stood alone.") == 0.75
    assert weights.overlap("Keepers of lighthouses") == 1.0
    assert weights.overlap("Nothing here") == 0.0
    assert TermWeights({}, frozenset()).coverage == 1.0
