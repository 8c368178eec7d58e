"""The lexical-index seam: BM25 over chunk text, and the word statistics answering needs.

An implementation owns its query syntax: callers hand it plain content words (`text.content_terms`),
never an engine's query string. Writes arrive inside the store's open SQLite transaction; an engine
outside SQLite makes them durable in `commit` (before the SQLite commit) and puts itself back in
step with the committed generation in `recover` (at open) or `abort` (after a rollback).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..config import LexicalSettings


@dataclass(frozen=True)
class LexicalEntry:
    """What the lexical index holds of one chunk."""

    chunk_id: int
    title: str
    text: str


# All chunks (None) or these chunks, as SQLite (the truth) holds them.
Rows = Callable[[Sequence[int] | None], Iterator[LexicalEntry]]


class LexicalIndex(Protocol):
    """Chunks searchable by words; writes happen inside the store's open write transaction."""

    def create(self) -> None:
        """Make the index's storage if the index is new."""
        ...

    def recover(self, rows: Rows, total: Callable[[], int], rebuild: bool) -> None:
        """Match the committed generation at open (`rebuild`: another engine kept the words until now)."""
        ...

    def add(self, entries: Sequence[LexicalEntry]) -> None:
        """Index these chunks."""
        ...

    def remove(self, chunk_ids: Sequence[int]) -> None:
        """Forget these chunks."""
        ...

    def commit(self) -> None:
        """Make this write durable just before the SQLite commit, recording how in the open transaction."""
        ...

    def committed(self) -> None:
        """The SQLite transaction committed."""
        ...

    def abort(self, rows: Rows, total: Callable[[], int]) -> None:
        """The SQLite transaction rolled back: undo this write."""
        ...

    def refresh(self) -> None:
        """Search the latest committed generation (the store moved on)."""
        ...

    def search(self, words: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score, higher is better) of the k best chunks for any of `words`."""
        ...

    def document_frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each word (words held by none are left out)."""
        ...

    def check(self) -> None:
        """Raise sqlite3.DatabaseError (or the engine's own error) when the index is damaged."""
        ...


def create_lexical_index(
    settings: LexicalSettings, index_dir: Path, connect: Callable[[], sqlite3.Connection], chunk_count: Callable[[], int],
    crash_point: Callable[[str], None] = lambda point: None,
) -> LexicalIndex:
    """The lexical index `settings.backend` names, over the index in `index_dir`."""
    if settings.backend == "fts5":
        from .fts5 import Fts5Index

        return Fts5Index(settings, connect, chunk_count)
    from .tantivy_index import TantivyIndex

    return TantivyIndex(settings, index_dir, connect, crash_point)


def drop_other_engines(backend: str, index_dir: Path, db: sqlite3.Connection) -> None:
    """Remove what engines other than `backend` left in the index (after a change of QA_LEXICAL_BACKEND)."""
    from . import fts5, tantivy_index

    if backend != "fts5":
        fts5.drop(db)
    if backend != "tantivy":
        tantivy_index.drop(index_dir, db)
