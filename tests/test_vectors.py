"""The FAISS index chosen by corpus size: exact while small, IVF (float16) past a threshold, deletes and updates on both."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qa import vectors
from qa.chunking import split_sentences
from qa.config import VectorSettings
from qa.vectors.faiss_index import ivf_lists

from .conftest import ROOT, SEEDS

SMALL_IVF = VectorSettings(ivf_threshold=1_000, flat_threshold=500)


@pytest.fixture(scope="module")
def real_vectors(encoder) -> tuple[np.ndarray, np.ndarray]:
    """4,000 corpus and 300 query vectors mixed from real embeddings of the seed sentences."""
    text = "\n\n".join(path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt")))
    sentences = [text[s.start : s.end] for s in split_sentences(text) if s.end - s.start > 20]
    base = encoder.encode(sentences)
    rng = np.random.default_rng(7)

    def mixes(count: int) -> np.ndarray:
        picks = rng.integers(0, len(base), size=(count, 3))
        mixed = base[picks].mean(axis=1) + rng.standard_normal((count, base.shape[1])).astype(np.float32) * 0.01
        return (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)

    return mixes(4_000), mixes(300)


def recall_at_10(index, corpus: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> float:
    """Share of the exact top 10 that `index` also returns in its top 10."""
    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    found = [len({i for i, _ in index.search(q, 10)} & set(ids[row].tolist())) for q, row in zip(queries, exact, strict=True)]
    return sum(found) / (10 * len(queries))


def test_small_corpus_is_searched_exactly(real_vectors):
    corpus, queries = real_vectors
    ids = np.arange(100, 100 + 900)
    index = vectors.build(corpus[:900], ids, corpus.shape[1], SMALL_IVF)
    assert index.info().kind == vectors.FLAT
    assert recall_at_10(index, corpus[:900], ids, queries) == 1.0


def test_large_corpus_gets_ivf_with_recall_of_exact(real_vectors):
    corpus, queries = real_vectors
    ids = np.arange(1, len(corpus) + 1) * 3
    index = vectors.build(corpus, ids, corpus.shape[1], SMALL_IVF)
    info = index.info()
    assert info.kind == vectors.IVF_FP16 and info.vectors == len(corpus)
    assert info.nlist == ivf_lists(len(corpus)) and 0 < info.nprobe <= info.nlist
    assert recall_at_10(index, corpus, ids, queries) >= 0.98


def test_ivf_deletes_and_updates_in_place(real_vectors):
    corpus, queries = real_vectors
    ids = np.arange(1, len(corpus) + 1)
    index = vectors.build(corpus, ids, corpus.shape[1], SMALL_IVF)
    gone = ids[:1_000]
    index.remove(gone)
    assert len(index) == len(corpus) - 1_000
    # A removed vector is no longer found even by its own query.
    assert all(hit != 1 for hit, _ in index.search(corpus[0], 50))
    kept = corpus[1_000:]
    assert recall_at_10(index, kept, ids[1_000:], queries) >= 0.98
    # Re-added under new ids (an update), it is found again, and the index stays IVF.
    index.add(corpus[:10], np.arange(90_001, 90_011))
    assert index.search(corpus[3], 1)[0][0] == 90_004
    index = vectors.fit(index, SMALL_IVF)
    assert index.info().kind == vectors.IVF_FP16
    # Shrinking below the flat threshold returns to exact search with the same contents.
    index.remove(ids[1_000:3_700])
    index = vectors.fit(index, SMALL_IVF)
    assert index.info().kind == vectors.FLAT and len(index) == 310
    assert index.search(corpus[3], 1)[0][0] == 90_004


def test_store_switches_index_kind_and_keeps_deletes_and_stats(make_qa, seeds_copy, tmp_path):
    index_dir = tmp_path / "index"
    # Thresholds far below the seeds' chunk count put this small corpus on the IVF path.
    qa = make_qa(index_dir, vectors=VectorSettings(ivf_threshold=8, flat_threshold=4, min_nprobe=64))
    qa.index([seeds_copy])
    stats = qa.stats()
    assert stats["vector_index"]["kind"] == vectors.IVF_FP16
    assert stats["vector_index"]["vectors"] == stats["chunks"]
    answer = qa.ask("How many people were arrested on Nov. 15?")
    assert "12,000" in answer.answer and answer.citations[0].doc_id == "000_5b672d860f205277.txt"

    cited = "000_5b672d860f205277.txt"
    qa.delete([cited])
    assert qa.stats()["vector_index"]["vectors"] == qa.stats()["chunks"]
    assert all(p.doc_id != cited for p in qa.search("arrested Nov. 15", 10))
    (seeds_copy / "extra.txt").write_text("The lighthouse keeper counted 4,321 gulls on the northern pier.\n", encoding="utf-8")
    qa.index([seeds_copy])
    assert qa.search("How many gulls did the lighthouse keeper count?", 1)[0].doc_id == "extra.txt"

    # The kind and parameters are recorded with the index and shown by the CLI.
    recorded = json.loads(qa.store._meta()["vector_index"])
    assert recorded["kind"] == vectors.IVF_FP16
    result = subprocess.run(
        [sys.executable, "-m", "qa", "index", "--stats", "--index-dir", str(index_dir)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["vector_index"] == recorded and shown["faiss_index"] == "IndexIVFScalarQuantizer"


def test_lexical_search_skips_terms_most_chunks_hold_while_rarer_ones_remain(make_qa):
    from qa.models import Document
    from qa.text import content_terms

    qa = make_qa()
    harbour = [f"The harbour log of day {n} lists ships and weather at the harbour." for n in range(19)]
    texts = [*harbour, "The lighthouse keeper counted gulls while the harbour slept."]
    qa.upsert([Document(f"log-{n}.txt", f"log-{n}.txt", f"Log {n}", text, f"h{n}") for n, text in enumerate(texts)])
    [keeper] = [row for row in qa.documents() if row.doc_id == "log-19.txt"]
    assert keeper.chunks == 1
    # "harbour" is in every chunk: scoring it would read the whole corpus and reorder nothing.
    found = qa.store.lexical.search(content_terms("harbour lighthouse"), 50)
    assert [qa.store.chunk_rows([i])[i].doc_id for i, _ in found] == ["log-19.txt"]
    # Alone, a common term is still searched: no question is left without lexical candidates.
    assert len(qa.store.lexical.search(content_terms("harbour"), 50)) == 20
