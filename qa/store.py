"""The index on disk: one SQLite file (documents, chunks, sentences) beside a vector file and a word index.

SQLite is the single source of truth. Every update is one SQLite transaction. The vector file of a
new generation is written and renamed into place before the transaction that points
`meta.faiss_file` at it commits, and the old file is removed only after, so a crash at any point
leaves the previous index whole. The word index commits just before SQLite too, and is put back in
step with SQLite's generation at open (qa/lexical/).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import vectors as vector_index
from .config import LexicalSettings, VectorSettings
from .errors import REBUILD_HINT, CorruptIndexError, ModelMismatchError
from .faults import Crash
from .lexical import LexicalEntry, create_lexical_index, drop_other_engines, tantivy_index
from .models import Changes, DocumentSummary, Passage, PreparedDocument, StoredDocument, StoredSentence, page_at
from .vectors import VectorIndex
from .vectors.codes import sentence_codes, sentence_vectors
from .vectors.faiss_index import read as faiss_read
from .vectors.layers import Delta, LayeredVectors, VectorFile, read_delta, write_delta

DB_NAME = "qa.sqlite"
SCHEMA_VERSION = "1"

# Embedded at open and compared with the vector stored at build time: two models can share a
# name (a folder called "model"), but not the vector they give this text.
MODEL_PROBE_TEXT = "The index remembers the model it was built with, so answers never mix two models."
_PROBE_MIN_COSINE = 0.99

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
"""

# SQLite allows 32,766 bound values a statement; four a span.
_SPANS_PER_STATEMENT = 1000


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
    """SQLite + vector-file persistence; thread-safe: many readers, one writer at a time."""

    def __init__(
        self,
        index_dir: Path,
        dimension: int,
        signature: dict[str, str],
        model_probe: np.ndarray | None = None,
        *,
        vector_settings: VectorSettings = VectorSettings(),
        lexical_settings: LexicalSettings = LexicalSettings(),
        crash_at: str = "",
        crash: Crash | None = None,
        integrity_checked: bool = False,
    ) -> None:
        self.dir = Path(index_dir)
        self.db_path = self.dir / DB_NAME
        self.dimension = dimension
        self.signature = signature
        self.vector_settings = vector_settings
        self.model_probe = model_probe
        # `crash` (QA_CRASH_AT, QA_CRASH_AFTER, QA_CRASH_SIGNAL) or a plain SIGKILL at `crash_at`.
        self.crash = crash or Crash(crash_at)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._vectors_lock = threading.RLock()
        self._generation = -1
        self.vectors: LayeredVectors | None = None
        self._base: VectorFile | None = None
        self._deltas: list[VectorFile] = []
        self.lexical_backend = lexical_settings.backend
        self.lexical = create_lexical_index(lexical_settings, self.dir, lambda: self.db, self.chunk_count, self._crash_point)
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
                self.lexical.create()
                stored = self._meta()
                if not stored:
                    self._write_meta({"schema": SCHEMA_VERSION, "generation": "0", "faiss_file": "", **self.signature})
                else:
                    self._check_signature(stored)
                self._check_model_probe(stored)
                self._recover_lexical(stored)
            self.refresh()
            self._clean_up_after_crash()
        except sqlite3.DatabaseError as error:
            raise CorruptIndexError(f"The index database {self.db_path} is damaged ({error}). {REBUILD_HINT}") from error

    def _recover_lexical(self, stored: dict[str, str]) -> None:
        """Bring the word index to the committed generation; a change of engine rebuilds it from the rows."""
        # An index without `lexical_backend` was built by a version that kept its words in FTS5.
        kept_by = stored.get("lexical_backend", "fts5") if stored else self.lexical_backend
        self.lexical.recover(self._lexical_rows, self._stored_chunk_count, rebuild=kept_by != self.lexical_backend)
        drop_other_engines(self.lexical_backend, self.dir, self.db)
        if stored.get("lexical_backend") != self.lexical_backend:
            self._write_meta({"lexical_backend": self.lexical_backend})

    def _lexical_rows(self, chunk_ids: Sequence[int] | None) -> Iterator[LexicalEntry]:
        return _lexical_rows(self.db_path, chunk_ids)

    def _stored_chunk_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

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
        self.crash.reached(point)

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

    def _stored_generation(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _committed_state(self) -> tuple[dict[str, str], int]:
        """Metadata and chunk count from one statement, hence one snapshot of one generation."""
        rows = self.db.execute("SELECT key, value FROM meta UNION ALL SELECT NULL, count(*) FROM chunks").fetchall()
        return {key: value for key, value in rows if key is not None}, next(int(value) for key, value in rows if key is None)

    def _write_meta(self, values: dict[str, str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(values.items()))

    # -- vector generations --------------------------------------------------------------------

    def refresh(self, retries: int = 1) -> None:
        """Load what another writer committed since: its new delta files only, or a new base and its deltas."""
        # Every question asks; counting the chunks walks the whole table (23 ms a count at 1M chunks,
        # two per question), so only a new generation pays for the consistent snapshot below.
        if self.vectors is not None and self._stored_generation() == self._generation:
            return
        meta, chunk_count = self._committed_state()
        generation = int(meta.get("generation", "0"))
        if generation == self._generation and self.vectors is not None:
            return
        base, deltas = committed_files(meta)
        if generation != self._generation:
            self.lexical.refresh()
        with self._vectors_lock:
            try:
                current = self.vectors
                if current is not None and base == self._base and deltas[: len(self._deltas)] == self._deltas:
                    vectors = _apply_deltas(self.dir, current, deltas[len(self._deltas) :])
                else:
                    vectors = load_layers(self.dir, base, deltas, self.dimension)
            except (OSError, RuntimeError, ValueError) as error:
                # Another process may have committed a newer generation and removed these files.
                if retries > 0 and int(self._meta().get("generation", "0")) != generation:
                    return self.refresh(retries - 1)
                raise CorruptIndexError(f"A vector file in {self.dir} is missing or damaged ({error}). {REBUILD_HINT}") from error
            if len(vectors) != chunk_count or vectors.dimension != self.dimension:
                raise CorruptIndexError(
                    f"The vector files hold {len(vectors)} vectors of {vectors.dimension} dimensions but the "
                    f"database has {chunk_count} chunks of {self.dimension}. "
                    "Rebuild with `python -m qa index --rebuild PATH...`."
                )
            self.vectors, self._generation, self._base, self._deltas = vectors, generation, base, deltas

    def vector_snapshot(self) -> LayeredVectors:
        """The committed generation's vectors (readers keep them even if a writer moves on)."""
        self.refresh()
        with self._vectors_lock:
            assert self.vectors is not None
            return self.vectors

    def chunk_count(self) -> int:
        """Chunks in the committed generation."""
        # The vector index holds one vector per chunk (checked at every refresh); count(*) would
        # walk the whole chunks table on every query.
        return len(self.vector_snapshot())

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

    def _remove_stray_files(self, keep: set[str] | None = None) -> None:
        """Drop vector files of crashed or superseded writes; only safe under SQLite's write lock."""
        if keep is None:
            base, deltas = committed_files(self._meta())
            keep = {file.name for file in [base, *deltas] if file is not None}
        for path in self.dir.glob("vectors-*"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def _write_file(self, name: str, write: Callable[[Path], tuple[str, int]]) -> VectorFile:
        """Write a generation's file durably under a temporary name, then rename it into place."""
        tmp = self.dir / (name + ".tmp")
        digest, size = write(tmp)
        os.replace(tmp, self.dir / name)
        _fsync_dir(self.dir)
        _remember_verified(self.dir / name, digest)
        return VectorFile(name, digest, size)

    def _needs_merge(self, vectors: LayeredVectors) -> bool:
        """Whether the unmerged deltas outgrew their share of the base, or the corpus size calls for another index kind."""
        settings = self.vector_settings
        size, kind = len(vectors), vectors.base.info().kind
        if kind == vector_index.FLAT and settings.kind != vector_index.FLAT and size >= settings.ivf_threshold:
            return True
        if kind != vector_index.FLAT and (settings.kind == vector_index.FLAT or size < settings.flat_threshold):
            return True
        return vectors.delta_size > max(settings.delta_min, settings.delta_share * len(vectors.base))

    def _merged(self, vectors: LayeredVectors) -> VectorIndex:
        """A new base holding every live vector (O(corpus); amortized over the commits it absorbs)."""
        # A mapped base cannot be changed: read a private copy of its file.
        writable = faiss_read(self.dir / self._base.name) if self._base is not None else vectors.base.copy()
        added, ids, removed = vectors.unmerged()
        if len(removed):
            writable.remove(removed)
        if len(ids):
            writable.add(added, ids)
        # The corpus size picks the index kind: exact while small, IVF once large.
        return vector_index.fit(writable, self.vector_settings)

    # -- writing -------------------------------------------------------------------------------

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        """doc_id -> (content_hash, root) of every stored document."""
        return {row[0]: (row[1], row[2]) for row in self.db.execute("SELECT doc_id, content_hash, root FROM documents")}

    def apply(self, changes: Changes) -> None:
        """Write one batch of upserts, deletes and moved roots as one atomic generation (cost O(batch))."""
        deletes = set(changes.deletes) | {prepared.document.doc_id for prepared in changes.upserts}
        with self._write_lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            generation = 0
            try:
                self.refresh()
                self._remove_stray_files()
                with self._vectors_lock:
                    assert self.vectors is not None
                    current, base, deltas = self.vectors, self._base, self._deltas
                removed = self._delete_rows(db, deletes)
                if removed:
                    self.lexical.remove(removed)
                added_ids: list[np.ndarray] = []
                added_vectors: list[np.ndarray] = []
                for prepared in changes.upserts:
                    ids = self._insert_document(db, prepared)
                    if ids:
                        added_ids.append(np.asarray(ids, dtype=np.int64))
                        added_vectors.append(np.asarray(prepared.chunk_vectors, dtype=np.float32))
                delta = Delta(
                    np.concatenate(added_ids) if added_ids else np.zeros(0, dtype=np.int64),
                    np.concatenate(added_vectors) if added_vectors else np.zeros((0, self.dimension), dtype=np.float32),
                    np.asarray(removed, dtype=np.int64),
                )
                for doc_id, root in changes.roots.items():
                    db.execute("UPDATE documents SET root = ? WHERE doc_id = ?", (root, doc_id))
                generation = int(self._meta().get("generation", "0")) + 1
                vectors = current.apply(delta)
                self._crash_point("before-faiss-write")
                if self._needs_merge(vectors):
                    merged = self._merged(vectors)
                    base = self._write_file(f"vectors-{generation}.faiss", lambda path: _save(merged, path))
                    deltas = []
                    vectors = LayeredVectors(merged)
                else:
                    deltas = [*deltas, self._write_file(f"vectors-{generation}.delta", lambda path: write_delta(path, delta))]
                self._crash_point("after-faiss-rename")
                self.lexical.commit()
                info = json.dumps(vectors.info().to_dict())
                self._write_meta(files_meta(base, deltas) | {"generation": str(generation), "vector_index": info})
                db.execute("COMMIT")
            except BaseException:
                # The rolled-back generation's file (if written) must not outlive it.
                for name in (f"vectors-{generation}.faiss", f"vectors-{generation}.delta") if generation else ():
                    for path in (self.dir / name, self.dir / (name + ".tmp")):
                        path.unlink(missing_ok=True)
                db.execute("ROLLBACK")
                self.lexical.abort(self._lexical_rows, self._stored_chunk_count)
                raise
            self._crash_point("after-commit")
            self.lexical.committed()
            with self._vectors_lock:
                previous = {file.name for file in [self._base, *self._deltas] if file is not None}
                self.vectors, self._generation, self._base, self._deltas = vectors, generation, base, deltas
            # Only what this commit superseded: a writer in another process may be writing its next file.
            for name in previous - {file.name for file in [base, *deltas] if file is not None}:
                (self.dir / name).unlink(missing_ok=True)

    def _delete_rows(self, db: sqlite3.Connection, doc_ids: set[str]) -> list[int]:
        removed: list[int] = []
        for doc_id in doc_ids:
            removed.extend(row[0] for row in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,)))
            db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
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
            assert cursor.lastrowid is not None
            ids.append(cursor.lastrowid)
        self.lexical.add([LexicalEntry(i, doc.title, chunk.text) for i, chunk in zip(ids, prepared.chunks, strict=True)])
        codes = sentence_codes(prepared.sentence_vectors)
        db.executemany(
            "INSERT INTO sentences(doc_id, start, end, vector) VALUES (?, ?, ?, ?)",
            [(doc.doc_id, s, e, codes[i]) for i, (s, e) in enumerate(prepared.sentence_spans)],
        )
        return ids

    # -- reading -------------------------------------------------------------------------------

    def document_frequencies(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each word, and the number of chunks (`text.TermStatistics`)."""
        return self.lexical.document_frequencies(words), self.chunk_count()

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

    def passages(self, ranked: Sequence[tuple[int, float]]) -> dict[int, Passage]:
        """The ranked chunks as passages (scored, with their sentences) by chunk id; missing ids are left out."""
        rows = self.chunk_rows([chunk_id for chunk_id, _ in ranked])
        found = [(chunk_id, score, rows[chunk_id]) for chunk_id, score in ranked if chunk_id in rows]
        sentences = self.sentences_within([(row.doc_id, row.start, row.end) for _, _, row in found])
        return {
            chunk_id: Passage(
                chunk_id=chunk_id, doc_id=row.doc_id, source=row.source, title=row.title, text=row.text,
                start=row.start, end=row.end, score=score, page=page_at(json.loads(row.pages), row.start),
                sentences=inside,
            )
            for (chunk_id, score, row), inside in zip(found, sentences, strict=True)
        }

    def sentences_in(self, doc_id: str, start: int, end: int) -> tuple[StoredSentence, ...]:
        """Sentence spans (with vectors) inside [start, end) of a document, in order."""
        return self.sentences_within([(doc_id, start, end)])[0]

    def sentences_within(self, spans: Sequence[tuple[str, int, int]]) -> list[tuple[StoredSentence, ...]]:
        """For each (doc_id, start, end): the sentences inside it, in order, with their vectors."""
        # One statement and one vector decode for a question's ~30 passages: a statement and a
        # decode per passage cost 2.7 ms of a question at 100k chunks.
        found: list[list[tuple[int, int, int, bytes]]] = [[] for _ in spans]
        for first in range(0, len(spans), _SPANS_PER_STATEMENT):
            group = spans[first : first + _SPANS_PER_STATEMENT]
            wanted = ",".join("(?, ?, ?, ?)" for _ in group)
            values = [value for k, span in enumerate(group, first) for value in (k, *span)]
            rows = self.db.execute(
                f"WITH wanted(k, doc_id, lo, hi) AS (VALUES {wanted}) SELECT w.k, s.start, s.end, s.vector FROM wanted w "
                "JOIN sentences s ON s.doc_id = w.doc_id AND s.start >= w.lo AND s.end <= w.hi ORDER BY w.k, s.start",
                values,
            ).fetchall()
            for row in rows:
                found[row[0]].append(row)
        vectors = iter(sentence_vectors([row[3] for rows in found for row in rows], self.dimension))
        return [tuple(StoredSentence(start, end, next(vectors)) for _, start, end, _ in rows) for rows in found]

    def document(self, doc_id: str) -> StoredDocument | None:
        """One document's text and metadata, or None."""
        row = self.db.execute(
            "SELECT d.doc_id, d.title, d.source, (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id), d.indexed_at, "
            "d.text, d.content_hash, d.pages FROM documents d WHERE d.doc_id = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        doc_id, title, source, chunks, indexed_at, text, content_hash, pages = row
        return StoredDocument(doc_id, title, source, chunks, indexed_at, text, content_hash, json.loads(pages))

    def documents(self, limit: int | None = None) -> list[DocumentSummary]:
        """Each document's id, title, source, chunk count and index time, by id (the first `limit` of them)."""
        # Counted per listed document through chunks_doc, so a short list stays short at any size
        # (the whole-table GROUP BY took 1.3 s at 125,000 documents).
        rows = self.db.execute(
            "SELECT d.doc_id, d.title, d.source, (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id), d.indexed_at "
            "FROM documents d ORDER BY d.doc_id LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
        return [DocumentSummary(*row) for row in rows]

    def generation(self) -> int:
        """The committed generation's number: it changes with every commit."""
        return self._stored_generation()

    def stats(self) -> dict[str, int | str | dict[str, int | str]]:
        """Counts and settings of the index (the `qa index --stats` JSON)."""

        def count(table: str) -> int:
            return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

        meta = self._meta()
        vectors = self.vector_snapshot()
        return {
            "documents": count("documents"),
            "chunks": count("chunks"),
            "sentences": count("sentences"),
            "generation": int(meta.get("generation", "0")),
            "faiss_index": vectors.implementation,
            "vector_index": vectors.info().to_dict(),
            **{k: v for k, v in meta.items() if k in self.signature},
        }

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def check_integrity(index_dir: Path, lexical_settings: LexicalSettings = LexicalSettings()) -> None:
    """The start-up check: O(1) database checks and the committed vector files' checksums (see `_check_integrity`)."""
    # Its own connection, so QA can run it in a thread while the model loads: hashing releases the GIL.
    index_dir.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(index_dir / DB_NAME, isolation_level=None, timeout=30)
    try:
        _check_integrity(connection, index_dir)
        if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            base, deltas = committed_files(dict(connection.execute("SELECT key, value FROM meta").fetchall()))
            for file in [base, *deltas]:
                if file is not None:
                    _verify(index_dir / file.name, file)
    except sqlite3.DatabaseError as error:
        raise CorruptIndexError(f"The index database {index_dir / DB_NAME} is damaged ({error}). {REBUILD_HINT}") from error
    except (OSError, ValueError) as error:
        raise CorruptIndexError(f"A vector file in {index_dir} is missing or damaged ({error}). {REBUILD_HINT}") from error
    finally:
        connection.close()


def full_check(index_dir: Path, lexical_settings: LexicalSettings = LexicalSettings()) -> dict[str, int | float | str]:
    """`qa index --check`: every page of the database, the lexical index, every vector file's bytes, and the counts.

    Takes time in proportion to the index's size (at a million chunks, minutes); raises CorruptIndexError.
    """
    began = time.perf_counter()
    db_path = index_dir / DB_NAME
    if not db_path.exists():
        raise CorruptIndexError(f"There is no index database in {index_dir}. {REBUILD_HINT}")
    # Read-write: FTS5's integrity check is an INSERT command (it changes nothing).
    connection = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    try:
        _check_integrity(connection, index_dir)
        problems = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise CorruptIndexError(f"The index database {db_path} is damaged ({'; '.join(problems)}). {REBUILD_HINT}")
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        chunks = int(connection.execute("SELECT count(*) FROM chunks").fetchone()[0])
        base, deltas = committed_files(meta)
        for file in [base, *deltas]:
            if file is not None:
                _verify(index_dir / file.name, file, cached=False)
        vectors = load_layers(index_dir, base, deltas, 0)
        # Vectors before words: a vector mismatch needs a full rebuild, while a damaged word index
        # rebuilds itself from the database, so the harder remedy is the one to report first.
        if len(vectors) != chunks:
            raise CorruptIndexError(f"The vector files in {index_dir} hold {len(vectors)} vectors but the database has {chunks} "
                                    f"chunks. {REBUILD_HINT}")
        lexical = create_lexical_index(lexical_settings, index_dir, lambda: connection, lambda: chunks)
        lexical.check()
    except sqlite3.DatabaseError as error:
        raise CorruptIndexError(f"The index database {db_path} is damaged ({error}). {REBUILD_HINT}") from error
    except (OSError, RuntimeError, ValueError) as error:
        raise CorruptIndexError(f"A vector file in {index_dir} is missing or damaged ({error}). {REBUILD_HINT}") from error
    finally:
        connection.close()
    return {"index_dir": str(index_dir), "ok": "yes", "chunks": chunks, "vectors": len(vectors), "vector_files": 1 + len(deltas),
            "database_bytes": db_path.stat().st_size, "seconds": round(time.perf_counter() - began, 2)}


def rebuild_words(index_dir: Path, lexical_settings: LexicalSettings = LexicalSettings()) -> None:
    """Rebuild the word index of `index_dir` from its database rows (a store written by other means; no writer running)."""
    connection = sqlite3.connect(index_dir / DB_NAME, isolation_level=None, timeout=30)
    try:
        lexical = create_lexical_index(lexical_settings, index_dir, lambda: connection, lambda: 0)
        lexical.create()
        count = int(connection.execute("SELECT count(*) FROM chunks").fetchone()[0])
        lexical.recover(lambda chunk_ids: _lexical_rows(index_dir / DB_NAME, chunk_ids), lambda: count, rebuild=True)
        drop_other_engines(lexical_settings.backend, index_dir, connection)
        connection.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('lexical_backend', ?)", (lexical_settings.backend,))
    finally:
        connection.close()


def _lexical_rows(db_path: Path, chunk_ids: Sequence[int] | None) -> Iterator[LexicalEntry]:
    """Chunks as the word index holds them: all of them (None), or these."""
    select = ("SELECT c.id, d.title, substr(d.text, c.start + 1, c.end - c.start) "
              "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id")
    # A connection of its own: the word index writes meta on the caller's while these stream.
    connection = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    try:
        if chunk_ids is None:
            yield from (LexicalEntry(*row) for row in connection.execute(select + " ORDER BY c.id"))
            return
        ids = list(chunk_ids)
        for at in range(0, len(ids), 500):
            batch = ids[at : at + 500]
            marks = ",".join("?" * len(batch))
            yield from (LexicalEntry(*row) for row in connection.execute(f"{select} WHERE c.id IN ({marks})", batch))
    finally:
        connection.close()


def remove_index(index_dir: Path) -> None:
    """Delete the index files in `index_dir` (for --rebuild); other files there are left alone."""
    words = [index_dir / tantivy_index.FOLDER_NAME, *index_dir.glob(tantivy_index.JOURNAL_NAME + "*")]
    for path in [index_dir / DB_NAME, *index_dir.glob(DB_NAME + "-*"), *index_dir.glob("vectors-*"), *words]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


# -- the files of a generation -------------------------------------------------------------------


def committed_files(meta: dict[str, str]) -> tuple[VectorFile | None, list[VectorFile]]:
    """The base file and delta files the committed generation consists of."""
    name = meta.get("faiss_file", "")
    # Indexes written before deltas existed recorded no size: checked by their checksum alone.
    base = VectorFile(name, meta.get("faiss_sha256", ""), int(meta.get("faiss_bytes", "-1"))) if name else None
    deltas = [VectorFile.from_dict(entry) for entry in json.loads(meta.get("vector_deltas", "[]"))]
    return base, deltas


def files_meta(base: VectorFile | None, deltas: list[VectorFile]) -> dict[str, str]:
    """The meta rows that record a generation's files (the inverse of `committed_files`)."""
    return {
        "faiss_file": base.name if base else "",
        "faiss_sha256": base.sha256 if base else "",
        "faiss_bytes": str(base.size) if base else "-1",
        "vector_deltas": json.dumps([delta.to_dict() for delta in deltas]),
    }


def load_layers(index_dir: Path, base: VectorFile | None, deltas: list[VectorFile], dimension: int) -> LayeredVectors:
    """A generation's vectors read from its files (each verified against its checksum unless already verified)."""
    if base is None:
        if not dimension and deltas:
            dimension = read_delta(index_dir / deltas[0].name).vectors.shape[1]
        layers = LayeredVectors(vector_index.empty_index(dimension or 1))
    else:
        _verify(index_dir / base.name, base)
        layers = LayeredVectors(faiss_read(index_dir / base.name, mmap=True))
    return _apply_deltas(index_dir, layers, deltas)


def _apply_deltas(index_dir: Path, layers: LayeredVectors, deltas: list[VectorFile]) -> LayeredVectors:
    for file in deltas:
        _verify(index_dir / file.name, file)
        layers = layers.apply(read_delta(index_dir / file.name, layers.dimension))
    return layers


# Files whose bytes were hashed in this process (path, size, mtime) -> SHA-256: a generation's file
# is never rewritten, so the start-up check beside the model load need not be repeated at open.
_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def _remember_verified(path: Path, sha256: str) -> None:
    with _verified_lock:
        _verified[_file_key(path)] = sha256


def _verify(path: Path, file: VectorFile, cached: bool = True) -> None:
    """Refuse (ValueError) a file whose size or bytes differ from those recorded when it was written."""
    key = _file_key(path)
    if file.size >= 0 and key[1] != file.size:
        raise ValueError(f"{path.name} has {key[1]} bytes, {file.size} were written")
    if not file.sha256 or (cached and _verified.get(key) == file.sha256):
        return
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    if digest != file.sha256:
        raise ValueError(f"the checksum of {path.name} does not match the one recorded when it was written")
    _remember_verified(path, digest)


def _save(index: VectorIndex, path: Path) -> tuple[str, int]:
    return index.save(path), path.stat().st_size


def _check_integrity(db: sqlite3.Connection, index_dir: Path) -> None:
    """Refuse a damaged database at open in O(1): its header against its size, and the root page of every table.

    Reading every page (quick_check, 65 s cold at a million chunks) and the lexical index's own check
    run on demand (`qa index --check`, `full_check`); damage deeper in a table surfaces as SQLite reads it.
    """
    db_path = index_dir / DB_NAME
    if db_path.exists() and db_path.stat().st_size >= 100:
        with open(db_path, "rb") as handle:
            header = handle.read(100)
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(header[28:32], "big")
        # The header's page count is valid when its change counter matches "version-valid-for".
        if header.startswith(b"SQLite format 3\0") and header[24:28] == header[92:96] and pages * page_size > db_path.stat().st_size:
            raise CorruptIndexError(f"The index database {db_path} is damaged (truncated: {db_path.stat().st_size} bytes of "
                                    f"{pages * page_size}). {REBUILD_HINT}")
    tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'").fetchall()
    for (table,) in tables:
        db.execute(f'SELECT * FROM "{table}" LIMIT 1').fetchall()  # reads the table's root page
    has_meta = any(table == "meta" for (table,) in tables)
    # An emptied database (truncated to 0 bytes) would otherwise pass for a new, empty index.
    if not has_meta and any(index_dir.glob("vectors-*")):
        raise CorruptIndexError(
            f"The index database {index_dir / DB_NAME} is missing or empty but vector files remain in {index_dir}. {REBUILD_HINT}"
        )
def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
