"""Reciprocal-rank fusion and its modes, on hand-made rankings."""

from __future__ import annotations

import pytest

from qa.config import FusionMode, FusionSettings
from qa.retrieval.fusion import fuse

DENSE = [(1, 0.9), (2, 0.8), (3, 0.7)]
LEXICAL = [(3, 12.0), (4, 9.0), (1, 2.0)]


def test_rrf_adds_each_rankings_vote() -> None:
    fused = dict(fuse(DENSE, LEXICAL, FusionSettings(rrf_k=10)))
    assert fused[1] == pytest.approx(1 / 11 + 1 / 13)
    assert fused[3] == pytest.approx(1 / 13 + 1 / 11)
    assert fused[2] == pytest.approx(1 / 12) and fused[4] == pytest.approx(1 / 12)


def test_ties_are_broken_by_chunk_id_so_results_are_stable() -> None:
    assert [cid for cid, _ in fuse(DENSE, LEXICAL, FusionSettings(rrf_k=10))] == [1, 3, 2, 4]


def test_weights_tilt_the_vote() -> None:
    lexical_first = fuse(DENSE, LEXICAL, FusionSettings(rrf_k=10, dense_weight=0.1))
    assert lexical_first[0][0] == 3


def test_single_ranking_modes_keep_that_rankings_order() -> None:
    assert [cid for cid, _ in fuse(DENSE, LEXICAL, FusionSettings(mode=FusionMode.DENSE))] == [1, 2, 3]
    assert [cid for cid, _ in fuse(DENSE, LEXICAL, FusionSettings(mode=FusionMode.LEXICAL))] == [3, 4, 1]


def test_empty_rankings_fuse_to_nothing() -> None:
    assert fuse([], [], FusionSettings()) == []
    assert [cid for cid, _ in fuse([], LEXICAL, FusionSettings())] == [3, 4, 1]


def test_prefer_lifts_the_conversations_documents_by_the_bonus() -> None:
    from qa.retrieval.fusion import prefer

    ranking = [(1, 0.30), (2, 0.25), (3, 0.10)]
    lifted = prefer(ranking, {1: "a.txt", 2: "b.txt", 3: "b.txt"}, frozenset({"b.txt"}), 0.1)
    assert [cid for cid, _ in lifted] == [2, 1, 3] and dict(lifted)[3] == pytest.approx(0.2)
    assert prefer(ranking, {1: "a.txt"}, frozenset(), 0.1) == ranking
