"""Vector generations as a base plus deltas: commits write O(batch), search sees exactly the live vectors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import vectors
from qa.config import VectorSettings
from qa.errors import CorruptIndexError
from qa.models import Changes, Chunk, Document, PreparedDocument
from qa.store import Store, committed_files, full_check
from qa.vectors.layers import Delta, LayeredVectors

ROOT = Path(__file__).resolve().parents[2]
DIM = 16
SMALL_IVF = VectorSettings(ivf_threshold=400, flat_threshold=200, tuning_queries=20)


def unit(rows: int, seed: int) -> np.ndarray:
    matrix = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def exact_top(corpus: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return ids[np.argsort(-(corpus @ query))[:k]].tolist()


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_layers_search_exactly_the_live_vectors(kind) -> None:
    corpus = unit(1_000, 1)
    ids = np.arange(1, 1_001, dtype=np.int64)
    settings = VectorSettings(kind="flat") if kind == "flat" else SMALL_IVF
    base = vectors.build(corpus[:600], ids[:600], DIM, settings)
    if kind == "ivf":
        base.index.nprobe = base.index.nlist  # type: ignore[attr-defined]  # every list: exact, to compare with numpy
    first = LayeredVectors(base)
    second = first.apply(Delta(ids[600:800], corpus[600:800], np.arange(1, 101, dtype=np.int64)))
    third = second.apply(Delta(ids[800:], corpus[800:], np.arange(601, 651, dtype=np.int64)))
    live = np.setdiff1d(ids, np.concatenate([np.arange(1, 101), np.arange(601, 651)]))
    assert len(third) == len(live) and len(second) == 700 and len(first) == 600
    for query in unit(20, 2):
        assert [i for i, _ in third.search(query, 10)] == exact_top(corpus[live - 1], live, query, 10)
        # An older generation is untouched by the appends after it (readers keep their snapshot).
        assert [i for i, _ in second.search(query, 10)] == exact_top(corpus[np.r_[100:800]], ids[100:800], query, 10)
    contents, content_ids = third.contents()
    assert sorted(content_ids.tolist()) == live.tolist()
    assert np.allclose(contents[np.argsort(content_ids)], corpus[live - 1], atol=1e-3)


def prepared(doc_id: str, chunk_vectors: np.ndarray) -> PreparedDocument:
    parts = [f"Sentence {i} of {doc_id}." for i in range(len(chunk_vectors))]
    text = " ".join(parts)
    starts = np.cumsum([0] + [len(part) + 1 for part in parts[:-1]]).tolist()
    spans = [(start, start + len(part)) for start, part in zip(starts, parts, strict=True)]
    chunks = [Chunk(doc_id, i, s, e, text[s:e], ()) for i, (s, e) in enumerate(spans)]
    document = Document(doc_id, doc_id, doc_id, text, doc_id + "-hash")
    return PreparedDocument(document, chunks, chunk_vectors, spans, chunk_vectors)


def open_store(folder: Path, settings: VectorSettings) -> Store:
    return Store(folder, DIM, {"model": "unit"}, vector_settings=settings)


def test_commits_append_small_deltas_and_merge_past_their_share(tmp_path) -> None:
    settings = VectorSettings(ivf_threshold=400, flat_threshold=200, tuning_queries=20, delta_min=150, delta_share=0.5)
    store = open_store(tmp_path, settings)
    corpus = unit(1_000, 3)
    written = []
    for batch in range(10):
        store.apply(Changes(upserts=[prepared(f"doc{batch}", corpus[batch * 100 : (batch + 1) * 100])]))
        base, deltas = committed_files(store._meta())
        written.append((base.name if base else "", [d.size for d in deltas]))
    # Each delta file holds one batch, whatever the corpus size; the base is rewritten only at merges.
    assert all(len(set(sizes)) <= 1 for _, sizes in written), written
    assert len({name for name, _ in written}) <= 4, written
    assert store.vector_snapshot().base.info().kind == vectors.IVF_FP16
    store.apply(Changes(deletes=["doc0", "doc9"]))
    assert len(store.vector_snapshot()) == 800
    # Another process opens the same generation from its files and finds the same neighbours.
    other = open_store(tmp_path, settings)
    for query in unit(5, 4):
        assert other.vector_snapshot().search(query, 5) == store.vector_snapshot().search(query, 5)
    report = full_check(tmp_path)
    assert report["chunks"] == report["vectors"] == 800
    store.close()
    other.close()


def test_full_check_finds_damage_the_start_up_check_leaves_to_it(tmp_path) -> None:
    store = open_store(tmp_path, VectorSettings())
    store.apply(Changes(upserts=[prepared("doc", unit(50, 5))]))
    store.db.execute("DELETE FROM chunks WHERE id = 1")  # a row gone behind the vectors' back
    store.close()
    with pytest.raises(CorruptIndexError, match="50 vectors but the database has 49 chunks"):
        full_check(tmp_path)
    result = subprocess.run([sys.executable, "-m", "qa", "index", "--check", "--index-dir", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "qa index --rebuild" in result.stderr and "Traceback" not in result.stderr


def test_cli_check_reports_a_healthy_index(tmp_path) -> None:
    store = open_store(tmp_path, VectorSettings())
    store.apply(Changes(upserts=[prepared("doc", unit(30, 6))]))
    store.close()
    result = subprocess.run([sys.executable, "-m", "qa", "index", "--check", "--index-dir", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report["ok"] == "yes" and report["chunks"] == report["vectors"] == 30
