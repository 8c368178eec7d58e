"""Large synthetic-but-real stores: real SQuAD sentences and their real embeddings, mixed and perturbed.

Embedding a million chunks for real would take days on two cores, so each synthetic document is a
mix of runs of consecutive real sentences from the SQuAD2-dev pool; every sentence vector is that sentence's
real embedding plus small Gaussian noise, and every chunk vector is the normalized mean of its
sentence vectors plus noise. The rows go straight into the store's own schema (SQLite tables with the
real text, sentence codes as qa.vectors.codes writes them), the word index is built from those rows by the
store's own rebuild_words and the FAISS file by qa.vectors, so the serving code reads them exactly as it
reads an index built by `qa index`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np

from qa import vectors as vector_index
from qa.config import VectorSettings
from qa.store import DB_NAME, Store, files_meta, rebuild_words
from qa.vectors import VectorIndex
from qa.vectors.codes import sentence_codes
from qa.vectors.layers import VectorFile

from .pool import Pool, squad_passages

SENTENCES_PER_CHUNK = 6
CHUNKS_PER_DOCUMENT = 8
SENTENCE_NOISE = 0.15
CHUNK_NOISE = 0.10
BATCH_DOCUMENTS = 2_000
# Bumped whenever the store's files change (rows, word index, vector files): a cached store of
# another format is rebuilt, so figures are always measured on what `qa index` writes today.
STORE_FORMAT = 4  # 4: 4-bit sentence codes


def _normalize(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _noise(rng: np.random.Generator, rows: int, dimension: int, norm: float) -> np.ndarray:
    return rng.standard_normal((rows, dimension), dtype=np.float32) * (norm / np.sqrt(dimension))


def build_store(folder: Path, chunks: int, pool: Pool, signature: dict[str, str], seed: int = 0) -> dict:
    """Write a store of about `chunks` chunks into `folder` (reused if already complete); returns its facts."""
    done = folder / "synthetic.json"
    if done.exists():
        facts = json.loads(done.read_text())
        if facts.get("chunks") == chunks and facts.get("signature") == signature and facts.get("format") == STORE_FORMAT:
            wanted = vector_index.FLAT if facts["stored_chunks"] < VectorSettings().ivf_threshold else vector_index.IVF_FP16
            if facts["vector_index"]["kind"] != wanted:
                # Same rows, different index choice (qa.vectors changed): rebuild the FAISS file only.
                index = write_vectors(folder, np.load(folder / "chunk_vectors.npy"))
                facts["vector_index"] = index.info().to_dict()
                done.write_text(json.dumps(facts))
            return facts
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():  # a store of an older format, word index folder included
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    began = time.perf_counter()
    dimension = pool.sentence_vectors.shape[1]
    Store(folder, dimension, signature).close()
    titles = [p["title"].replace("_", " ") for p in squad_passages()]
    rng = np.random.default_rng(seed)
    db = sqlite3.connect(folder / DB_NAME, isolation_level=None)
    # A throw-away build: no journal, no syncs, one transaction, a big page cache. The store's own
    # connections put the file back in WAL mode when they open it.
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-524288")
    db.execute("BEGIN")
    documents = -(-chunks // CHUNKS_PER_DOCUMENT)
    chunk_vectors = np.zeros((documents * CHUNKS_PER_DOCUMENT, dimension), dtype=np.float32)
    per_doc = CHUNKS_PER_DOCUMENT * SENTENCES_PER_CHUNK
    lengths = np.array([len(s) for s in pool.sentences], dtype=np.int64)
    chunk_id = 0
    for first in range(0, documents, BATCH_DOCUMENTS):
        count = min(BATCH_DOCUMENTS, documents - first)
        # Each chunk is a run of consecutive pool sentences (same article, like a real chunk).
        starts = rng.integers(0, len(pool.sentences) - SENTENCES_PER_CHUNK, size=(count * CHUNKS_PER_DOCUMENT, 1))
        picks = (starts + np.arange(SENTENCES_PER_CHUNK)).reshape(count, per_doc)
        sentence_vectors = _normalize(pool.sentence_vectors[picks.ravel()] + _noise(rng, count * per_doc, dimension, SENTENCE_NOISE))
        means = sentence_vectors.reshape(count * CHUNKS_PER_DOCUMENT, SENTENCES_PER_CHUNK, dimension).mean(axis=1)
        batch_chunk_vectors = _normalize(means + _noise(rng, len(means), dimension, CHUNK_NOISE))
        sentence_blobs = sentence_codes(sentence_vectors)
        # Sentence spans within each document body (sentences joined by one space).
        ends = np.cumsum(lengths[picks] + 1, axis=1) - 1
        begins = ends - lengths[picks]
        title_picks = rng.integers(len(titles), size=count)
        now = time.time()
        document_rows, chunk_rows, sentence_rows = [], [], []
        for d in range(count):
            doc_id = f"synthetic/{first + d:07d}.txt"
            title = f"{titles[int(title_picks[d])]} {first + d}"
            body = " ".join(pool.sentences[i] for i in picks[d])
            document_rows.append((doc_id, doc_id, title, body, hashlib.sha1(body.encode()).hexdigest(), "[]", "synthetic", now))
            doc_begins, doc_ends = begins[d].tolist(), ends[d].tolist()
            for ordinal in range(CHUNKS_PER_DOCUMENT):
                chunk_id += 1
                start = doc_begins[ordinal * SENTENCES_PER_CHUNK]
                end = doc_ends[ordinal * SENTENCES_PER_CHUNK + SENTENCES_PER_CHUNK - 1]
                chunk_rows.append((chunk_id, doc_id, ordinal, start, end))
            row = d * per_doc
            spans = enumerate(zip(doc_begins, doc_ends, strict=True))
            sentence_rows.extend((doc_id, s, e, sentence_blobs[row + i]) for i, (s, e) in spans)
        db.executemany("INSERT INTO documents(doc_id, source, title, text, content_hash, pages, root, indexed_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", document_rows)
        db.executemany("INSERT INTO chunks(id, doc_id, ordinal, start, end) VALUES (?, ?, ?, ?, ?)", chunk_rows)
        db.executemany("INSERT INTO sentences(doc_id, start, end, vector) VALUES (?, ?, ?, ?)", sentence_rows)
        chunk_vectors[first * CHUNKS_PER_DOCUMENT : (first + count) * CHUNKS_PER_DOCUMENT] = batch_chunk_vectors
    db.execute("COMMIT")
    db.close()
    rebuild_words(folder)  # the word index (QA_LEXICAL_BACKEND) from the rows just written
    np.save(folder / "chunk_vectors.npy", chunk_vectors)
    index = write_vectors(folder, chunk_vectors)
    facts = {
        "format": STORE_FORMAT,
        "chunks": chunks,
        "stored_chunks": chunk_id,
        "documents": documents,
        "signature": signature,
        "build_seconds": round(time.perf_counter() - began, 1),
        "vector_index": index.info().to_dict(),
    }
    done.write_text(json.dumps(facts))
    return facts


def write_vectors(folder: Path, chunk_vectors: np.ndarray) -> VectorIndex:
    """(Re)build the store's base vector file from its chunk vectors with the current qa.vectors choice (no deltas)."""
    index = vector_index.build(chunk_vectors, np.arange(1, len(chunk_vectors) + 1, dtype=np.int64), chunk_vectors.shape[1])
    generation = int(time.time())
    name = f"vectors-{generation}.faiss"
    digest = index.save(folder / name)
    db = sqlite3.connect(folder / DB_NAME, isolation_level=None)
    base = VectorFile(name, digest, (folder / name).stat().st_size)
    rows = files_meta(base, []) | {"generation": str(generation), "vector_index": json.dumps(index.info().to_dict())}
    db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(rows.items()))
    db.close()
    for path in folder.glob("vectors-*"):
        if path.name != name:
            path.unlink()
    return index
