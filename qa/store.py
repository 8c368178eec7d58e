"""The index on disk: one SQLite file (documents, chunks, sentences, FTS5) beside a FAISS file.

Every update is one SQLite transaction. The FAISS file of a new generation is written and
renamed into place before the transaction that points `meta.faiss_file` at it commits, and the
old file is removed only after, so a crash at any point leaves the previous index whole.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from . import vectors as vector_index
from .models import Chunk, Document

DB_NAME = "qa.sqlite"
SCHEMA_VERSION = "1"
REBUILD_HINT = "Rebuild it with `python -m qa index --rebuild PATH...`."

# Points of a write where `Settings.crash_at` kills the process (SIGKILL), for the crash-safety tests.
CRASH_POINTS = ("before-faiss-write", "after-faiss-rename", "after-commit")

# Embedded at open and compared with the vector stored at build time: two models can share a
# name (a folder called "model"), but not the vector they give this text.
MODEL_PROBE_TEXT = "The index remembers the model it was built with, so answers never mix two models."
_PROBE_MIN_COSINE = 0.99

# Lexical queries drop terms found in more than this share of chunks when rarer terms remain
# (measured in docs/performance.md: BM25 cost at 100k chunks, MRR@10 unchanged on SQuAD2-dev).
COMMON_TERM_SHARE = 0.1
# The form retrieval.fts_query gives: quoted word tokens joined by OR.
_QUOTED_OR = re.compile(r'"[^"]+"(?: OR "[^"]+")*')

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    pages TEXT NOT NULL DEFAULT '[]',
    root TEXT NOT NULL DEFAULT '',
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_doc ON sentences(doc_id, start);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""


class IndexError_(RuntimeError):
    """Base class of index problems reported to the user with a way out."""


class CorruptIndexError(IndexError_):
    """The index files are damaged or inconsistent."""


class ModelMismatchError(IndexError_):
    """The index was built with a different embedding model or chunking."""


@dataclass
class PreparedDocument:
    """A document with its chunks and vectors, ready to be written in one transaction."""

    document: Document
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_spans: list[tuple[int, int]]
    sentence_vectors: np.ndarray


@dataclass(frozen=True)
class ChunkRow:
    """A stored chunk joined with its document's citation fields."""

    chunk_id: int
    doc_id: str
    source: str
    title: str
    start: int
    end: int
    text: str
    pages: str


class Store:
    """SQLite + FAISS persistence; thread-safe: many readers, one writer at a time."""

    def __init__(
        self,
        index_dir: Path,
        dimension: int,
        signature: dict[str, str],
        model_probe: np.ndarray | None = None,
        crash_at: str = "",
        integrity_checked: bool = False,
    ) -> None:
        self.dir = Path(index_dir)
        self.db_path = self.dir / DB_NAME
        self.dimension = dimension
        self.signature = signature
        self.vector_settings = vector_index.VectorSettings()
        self.model_probe = model_probe
        self.crash_at = crash_at
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._faiss_lock = threading.RLock()
        self._generation = -1
        self.vectors: faiss.Index | None = None
        self._open(integrity_checked)

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared across threads)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    def _open(self, integrity_checked: bool) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            with self._write_lock:
                if not integrity_checked:  # else check_integrity(index_dir) ran just before, beside the model load
                    _check_integrity(self.db, self.dir)
                self.db.executescript(SCHEMA)
                stored = self._meta()
                if not stored:
                    self._write_meta({"schema": SCHEMA_VERSION, "generation": "0", "faiss_file": "", **self.signature})
                else:
                    self._check_signature(stored)
                self._check_model_probe(stored)
            self.refresh()
            self._clean_up_after_crash()
        except sqlite3.DatabaseError as error:
            raise CorruptIndexError(f"The index database {self.db_path} is damaged ({error}). {REBUILD_HINT}") from error

    def _check_model_probe(self, stored: dict[str, str]) -> None:
        if self.model_probe is None:
            return
        probe = np.asarray(self.model_probe, dtype=np.float32)
        if "model_probe" not in stored:
            encoded = base64.b64encode(probe.astype(np.float16).tobytes()).decode("ascii")
            self._write_meta({"model_probe": encoded})
            return
        have = np.frombuffer(base64.b64decode(stored["model_probe"]), dtype=np.float16).astype(np.float32)
        cosine = float(have @ probe / (np.linalg.norm(have) * np.linalg.norm(probe) or 1.0)) if have.shape == probe.shape else 0.0
        if cosine < _PROBE_MIN_COSINE:
            raise ModelMismatchError(
                f"The index in {self.dir} was built with a different embedding model than this run's "
                f"({self.signature.get('model', 'unknown')}): its vectors would not match. "
                "Use the model it was built with, or rebuild with `python -m qa index --rebuild PATH...`."
            )

    def _crash_point(self, point: str) -> None:
        if self.crash_at == point:
            os.kill(os.getpid(), signal.SIGKILL)

    def _check_signature(self, stored: dict[str, str]) -> None:
        for key, wanted in self.signature.items():
            have = stored.get(key)
            if have is not None and have != wanted:
                raise ModelMismatchError(
                    f"The index in {self.dir} was built with {key}={have!r}, but this run uses {wanted!r}. "
                    "Use the same settings, or rebuild with `python -m qa index --rebuild PATH...`."
                )

    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def _committed_state(self) -> tuple[dict[str, str], int]:
        """Metadata and chunk count from one statement, hence one snapshot of one generation."""
        rows = self.db.execute("SELECT key, value FROM meta UNION ALL SELECT NULL, count(*) FROM chunks").fetchall()
        return {key: value for key, value in rows if key is not None}, next(int(value) for key, value in rows if key is None)

    def _write_meta(self, values: dict[str, str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(values.items()))

    # -- FAISS generations ---------------------------------------------------------------------

    def refresh(self, retries: int = 1) -> None:
        """Load the FAISS file of the committed generation if another writer moved it on."""
        meta, chunk_count = self._committed_state()
        generation = int(meta.get("generation", "0"))
        if generation == self._generation and self.vectors is not None:
            return
        name = meta.get("faiss_file", "")
        with self._faiss_lock:
            if not name:
                vectors = vector_index.empty(self.dimension)
            else:
                path = self.dir / name
                try:
                    vectors = _read_faiss(path, meta.get("faiss_sha256"))
                except (OSError, RuntimeError, ValueError) as error:
                    # Another process may have committed a newer generation and removed this file.
                    if retries > 0 and int(self._meta().get("generation", "0")) != generation:
                        return self.refresh(retries - 1)
                    raise CorruptIndexError(f"The vector file {path} is missing or damaged ({error}). {REBUILD_HINT}") from error
            if vectors.ntotal != chunk_count or vectors.d != self.dimension:
                raise CorruptIndexError(
                    f"The vector file holds {vectors.ntotal} vectors of {vectors.d} dimensions but the "
                    f"database has {chunk_count} chunks of {self.dimension}. "
                    "Rebuild with `python -m qa index --rebuild PATH...`."
                )
            self.vectors, self._generation = vectors, generation

    def _clean_up_after_crash(self) -> None:
        """Remove vector files a killed writer left, unless a writer is at work right now."""
        db = self.db
        db.execute("PRAGMA busy_timeout = 0")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return  # Locked: the running writer cleans up when it commits.
        finally:
            db.execute("PRAGMA busy_timeout = 30000")
        try:
            self._remove_stray_files()
        finally:
            db.execute("COMMIT")

    def _remove_stray_files(self) -> None:
        """Drop vector files of crashed or superseded writes; only safe under SQLite's write lock."""
        current = self._meta().get("faiss_file", "")
        for path in self.dir.glob("vectors-*.faiss*"):
            if path.name != current:
                path.unlink(missing_ok=True)

    def _write_faiss(self, vectors: faiss.Index, generation: int) -> tuple[str, str]:
        """Write the generation's vector file durably; returns its name and SHA-256."""
        name = f"vectors-{generation}.faiss"
        tmp = self.dir / (name + ".tmp")
        data = faiss.serialize_index(vectors).tobytes()
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.dir / name)
        _fsync_dir(self.dir)
        return name, hashlib.sha256(data).hexdigest()

    # -- writing -------------------------------------------------------------------------------

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        """doc_id -> (content_hash, root) of every stored document."""
        return {row[0]: (row[1], row[2]) for row in self.db.execute("SELECT doc_id, content_hash, root FROM documents")}

    def apply(self, upserts: Sequence[PreparedDocument], deletes: Iterable[str] = (), roots: dict[str, str] | None = None) -> None:
        """Write upserts and deletes as one atomic generation (SQLite transaction + FAISS file)."""
        deletes = set(deletes) | {prepared.document.doc_id for prepared in upserts}
        with self._write_lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            previous = self._meta().get("faiss_file", "")
            try:
                self.refresh()
                self._remove_stray_files()
                with self._faiss_lock:
                    vectors = faiss.clone_index(self.vectors)
                removed = self._delete_rows(db, deletes)
                if removed:
                    vector_index.remove(vectors, np.asarray(removed, dtype=np.int64))
                for prepared in upserts:
                    ids = self._insert_document(db, prepared)
                    if ids:
                        vector_index.add(vectors, prepared.chunk_vectors, np.asarray(ids, dtype=np.int64))
                # The corpus size picks the index kind: exact while small, IVF once large.
                vectors = vector_index.fit(vectors, self.vector_settings)
                for doc_id, root in (roots or {}).items():
                    db.execute("UPDATE documents SET root = ? WHERE doc_id = ?", (root, doc_id))
                generation = int(self._meta().get("generation", "0")) + 1
                self._crash_point("before-faiss-write")
                name, digest = self._write_faiss(vectors, generation)
                self._crash_point("after-faiss-rename")
                info = json.dumps(vector_index.describe(vectors).to_dict())
                self._write_meta({"generation": str(generation), "faiss_file": name, "faiss_sha256": digest, "vector_index": info})
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                # The rolled-back generation's file (if written) must not outlive it.
                for path in self.dir.glob("vectors-*.faiss*"):
                    if path.name != previous:
                        path.unlink(missing_ok=True)
                raise
            self._crash_point("after-commit")
            with self._faiss_lock:
                self.vectors, self._generation = vectors, generation
            if previous:
                (self.dir / previous).unlink(missing_ok=True)

    def _delete_rows(self, db: sqlite3.Connection, doc_ids: set[str]) -> list[int]:
        removed: list[int] = []
        for doc_id in doc_ids:
            ids = [row[0] for row in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
            db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in ids])
            db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            removed.extend(ids)
        return removed

    def _insert_document(self, db: sqlite3.Connection, prepared: PreparedDocument) -> list[int]:
        doc = prepared.document
        db.execute(
            "INSERT INTO documents(doc_id, source, title, text, content_hash, pages, root, indexed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.doc_id, doc.source, doc.title, doc.text, doc.content_hash, json.dumps(doc.pages), doc.root, time.time()),
        )
        ids = []
        for chunk in prepared.chunks:
            cursor = db.execute(
                "INSERT INTO chunks(doc_id, ordinal, start, end) VALUES (?, ?, ?, ?)",
                (doc.doc_id, chunk.ordinal, chunk.start, chunk.end),
            )
            ids.append(cursor.lastrowid)
            db.execute("INSERT INTO chunks_fts(rowid, title, body) VALUES (?, ?, ?)", (cursor.lastrowid, doc.title, chunk.text))
        vectors16 = prepared.sentence_vectors.astype(np.float16)
        db.executemany(
            "INSERT INTO sentences(doc_id, start, end, vector) VALUES (?, ?, ?, ?)",
            [(doc.doc_id, s, e, vectors16[i].tobytes()) for i, (s, e) in enumerate(prepared.sentence_spans)],
        )
        return ids

    # -- reading -------------------------------------------------------------------------------

    def search_dense(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Chunk ids and inner-product scores of the k nearest chunk vectors."""
        self.refresh()
        with self._faiss_lock:
            vectors = self.vectors
        return vector_index.search(vectors, query, k)

    def search_lexical(self, match: str, k: int) -> list[tuple[int, float]]:
        """Chunk ids and BM25 scores (higher is better) for an FTS5 MATCH expression."""
        if not match:
            return []
        rows = self.db.execute(
            "SELECT rowid, -bm25(chunks_fts, 0.5, 1.0) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
            (self._without_common_terms(match), k),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def _without_common_terms(self, match: str) -> str:
        """An OR of quoted terms without those in over COMMON_TERM_SHARE of chunks, while rarer ones remain."""
        # FTS5 scores every row any term matches before it sorts, so a term in a third of the
        # chunks costs a third of the corpus per query, while its BM25 weight (idf <= 3 past 5%)
        # barely moves a ranking led by rarer terms. Other MATCH expressions pass through.
        if not _QUOTED_OR.fullmatch(match):
            return match
        terms = [part[1:-1] for part in match.split(" OR ")]
        frequencies, total = self.document_frequencies(terms)
        rare = [t for t in terms if frequencies.get(t, 0) <= COMMON_TERM_SHARE * total]
        return " OR ".join(f'"{t}"' for t in rare) if rare else match

    def document_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each term, and the number of chunks, for IDF weights."""
        # The vector index holds one vector per chunk (checked at every refresh); count(*) would
        # walk the whole chunks table on every query.
        self.refresh()
        with self._faiss_lock:
            total = int(self.vectors.ntotal)
        if not terms:
            return {}, total
        marks = ",".join("?" * len(terms))
        rows = self.db.execute(f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", list(terms)).fetchall()
        return dict(rows), total

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """Stored chunks by id, with the fields a citation needs; missing ids are left out."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            "SELECT c.id, c.doc_id, d.source, d.title, c.start, c.end, substr(d.text, c.start + 1, c.end - c.start), d.pages "
            f"FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE c.id IN ({marks})",
            list(chunk_ids),
        ).fetchall()
        return {row[0]: ChunkRow(*row) for row in rows}

    def sentences_in(self, doc_id: str, start: int, end: int) -> list[tuple[int, int, np.ndarray]]:
        """Sentence spans (with vectors) inside [start, end) of a document, in order."""
        rows = self.db.execute(
            "SELECT start, end, vector FROM sentences WHERE doc_id = ? AND start >= ? AND end <= ? ORDER BY start",
            (doc_id, start, end),
        ).fetchall()
        return [(s, e, np.frombuffer(v, dtype=np.float16).astype(np.float32)) for s, e, v in rows]

    def document(self, doc_id: str) -> dict | None:
        """One document's text and metadata, or None."""
        row = self.db.execute(
            "SELECT doc_id, source, title, text, content_hash, pages, root, indexed_at FROM documents WHERE doc_id = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        keys = ("doc_id", "source", "title", "text", "content_hash", "pages", "root", "indexed_at")
        record = dict(zip(keys, row))
        record["pages"] = json.loads(record["pages"])
        record["chunks"] = self.db.execute("SELECT count(*) FROM chunks WHERE doc_id = ?", (doc_id,)).fetchone()[0]
        return record

    def documents(self) -> list[dict]:
        """Every document's id, title, source, chunk count and index time."""
        rows = self.db.execute(
            "SELECT d.doc_id, d.title, d.source, count(c.id), d.indexed_at FROM documents d "
            "LEFT JOIN chunks c ON c.doc_id = d.doc_id GROUP BY d.doc_id ORDER BY d.doc_id"
        ).fetchall()
        return [dict(zip(("doc_id", "title", "source", "chunks", "indexed_at"), row)) for row in rows]

    def stats(self) -> dict[str, int | str]:
        """Counts and settings of the index."""
        count = lambda table: self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
        meta = self._meta()
        return {
            "documents": count("documents"),
            "chunks": count("chunks"),
            "sentences": count("sentences"),
            "generation": int(meta.get("generation", "0")),
            "faiss_index": vector_index.class_name(self.vectors) if self.vectors is not None else "",
            "vector_index": vector_index.describe(self.vectors).to_dict() if self.vectors is not None else {},
            **{k: v for k, v in meta.items() if k in self.signature},
        }

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def check_integrity(index_dir: Path) -> None:
    """Refuse a damaged index in `index_dir` (reads every page, so it takes time in proportion to its size)."""
    # Its own connection, so QA can run it in a thread while the model loads: SQLite releases the GIL.
    index_dir.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(index_dir / DB_NAME, isolation_level=None, timeout=30)
    try:
        _check_integrity(connection, index_dir)
    except sqlite3.DatabaseError as error:
        raise CorruptIndexError(f"The index database {index_dir / DB_NAME} is damaged ({error}). {REBUILD_HINT}") from error
    finally:
        connection.close()


def _check_integrity(db: sqlite3.Connection, index_dir: Path) -> None:
    """Refuse a damaged database before anything is written to it."""
    # quick_check reads every page once: truncation and torn pages show up here, not mid-query.
    problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
    if problems != ["ok"]:
        raise CorruptIndexError(f"The index database {index_dir / DB_NAME} is damaged ({'; '.join(problems)}). {REBUILD_HINT}")
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
    if has_meta:
        # Damage inside the full-text index passes quick_check; FTS5 checks it against its content.
        db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    # An emptied database (truncated to 0 bytes) would otherwise pass for a new, empty index.
    if not has_meta and any(index_dir.glob("vectors-*.faiss")):
        raise CorruptIndexError(
            f"The index database {index_dir / DB_NAME} is missing or empty but vector files remain in {index_dir}. {REBUILD_HINT}"
        )


def _read_faiss(path: Path, sha256: str | None) -> faiss.Index:
    """Read a vector file, refusing it when its bytes differ from those committed with it."""
    # Hashed as a stream and then read by FAISS from the file: holding the bytes and the index at
    # once doubled peak memory (800 MB more at a million chunks). A generation's file is never
    # rewritten in place, so the bytes hashed are the bytes read.
    if sha256 is not None:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if digest != sha256:
            raise ValueError("its checksum does not match the one recorded when it was written")
    return faiss.read_index(str(path))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
