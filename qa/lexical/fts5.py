"""BM25 with SQLite FTS5, inside the index database: one transaction covers chunks and their words."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from itertools import islice

from ..config import LexicalSettings
from . import LexicalEntry, Rows

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""


class Fts5Index:
    """The `chunks_fts` table (rowid = chunk id) and its vocabulary."""

    def __init__(self, settings: LexicalSettings, connect: Callable[[], sqlite3.Connection], chunk_count: Callable[[], int]) -> None:
        self.settings = settings
        # The store's connection of the calling thread, so writes join its open transaction.
        self._db = connect
        self._chunk_count = chunk_count

    def create(self) -> None:
        """Create the tables if the database is new."""
        self._db().executescript(SCHEMA)

    def recover(self, rows: Rows, total: Callable[[], int], rebuild: bool) -> None:
        """Refill the tables from the database's rows when another engine kept the words until now."""
        if rebuild:
            self._db().execute("DELETE FROM chunks_fts")
            entries = rows(None)
            while batch := list(islice(entries, 10_000)):
                self.add(batch)

    def commit(self) -> None:
        """Nothing to do: the SQLite transaction carries the words."""

    def committed(self) -> None:
        """Nothing to do: readers see the words with the rows."""

    def abort(self, rows: Rows, total: Callable[[], int]) -> None:
        """Nothing to do: the SQLite rollback took the words back."""

    def refresh(self) -> None:
        """Nothing to do: every statement reads the committed snapshot."""

    def add(self, entries: Sequence[LexicalEntry]) -> None:
        """Index these chunks."""
        self._db().executemany("INSERT INTO chunks_fts(rowid, title, body) VALUES (?, ?, ?)",
                               [(e.chunk_id, e.title, e.text) for e in entries])

    def remove(self, chunk_ids: Sequence[int]) -> None:
        """Forget these chunks."""
        self._db().executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in chunk_ids])

    def search(self, words: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the k best chunks holding any of `words`."""
        match = " OR ".join(f'"{w}"' for w in self._selective(words))
        if not match:
            return []
        rows = self._db().execute(
            "SELECT rowid, -bm25(chunks_fts, ?, ?) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
            (self.settings.title_weight, self.settings.body_weight, match, k),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def _selective(self, words: Sequence[str]) -> list[str]:
        """`words` without those in over `common_term_share` of chunks, while rarer ones remain."""
        # FTS5 scores every row any term matches before it sorts, so a term in a third of the
        # chunks costs a third of the corpus per query, while its BM25 weight (idf <= 3 past 5%)
        # barely moves a ranking led by rarer terms.
        words = [w for w in words if w and '"' not in w]
        if len(words) < 2:
            return words
        frequencies, total = self.document_frequencies(words), self._chunk_count()
        rare = [w for w in words if frequencies.get(w, 0) <= self.settings.common_term_share * total]
        return rare or words

    def document_frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each word."""
        if not words:
            return {}
        marks = ",".join("?" * len(words))
        return dict(self._db().execute(f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", list(words)).fetchall())

    def check(self) -> None:
        """FTS5's own integrity check of the index against its content (damage passes SQLite's quick_check)."""
        if not _exists(self._db()):
            return  # another engine kept the words until now: `recover` fills the new tables
        self._db().execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")


def _exists(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchone() is not None


def drop(db: sqlite3.Connection) -> None:
    """Remove the FTS5 tables that another engine now replaces (their pages are reused by later rows)."""
    if _exists(db):
        db.executescript("DROP TABLE IF EXISTS chunks_vocab; DROP TABLE IF EXISTS chunks_fts;")
