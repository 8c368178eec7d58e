"""Tokens, stems and IDF term weights, with document frequencies given by hand."""

from __future__ import annotations

import math

from qa.text import TermWeights, content_terms, stem, stem_variants, term_weights, terms


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


def test_weights_use_the_most_frequent_variant_and_know_unseen_words() -> None:
    weights = term_weights(Frequencies({"protest": 2, "protests": 30, "basra": 1}), "protests in Basra and Zanzibar")
    assert set(weights.idf) == {"protest", "basra", "zanzibar"}
    assert weights.idf["protest"] == math.log(1 + (100 - 30 + 0.5) / (30 + 0.5))
    assert weights.known == {"protest", "basra"}
    assert 0 < weights.coverage < 1


def test_overlap_is_the_share_of_idf_weight_present() -> None:
    # Weights are kept by stem: "lighthouse" and "lighthouses" are both "lighthous".
    weights = TermWeights({"lighthous": 3.0, "keeper": 1.0}, frozenset({"lighthous", "keeper"}))
    assert weights.overlap("The lighthouse stood alone.") == 0.75
    assert weights.overlap("Keepers of lighthouses") == 1.0
    assert weights.overlap("Nothing here") == 0.0
    assert TermWeights({}, frozenset()).coverage == 1.0
