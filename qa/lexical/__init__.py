"""The lexical-index seam: BM25 over chunk text, and the word statistics answering needs.

An implementation owns its query syntax: callers hand it plain content words (`text.content_terms`),
never an engine's query string.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
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


class LexicalIndex(Protocol):
    """Chunks searchable by words; writes happen inside the store's open write transaction."""

    def create(self) -> None:
        """Make the index's storage if the index is new."""
        ...

    def add(self, entries: Sequence[LexicalEntry]) -> None:
        """Index these chunks."""
        ...

    def remove(self, chunk_ids: Sequence[int]) -> None:
        """Forget these chunks."""
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
    settings: LexicalSettings, index_dir: Path, connect: Callable[[], sqlite3.Connection], chunk_count: Callable[[], int]
) -> LexicalIndex:
    """The lexical index `settings.backend` names, over the index in `index_dir`."""
    from .fts5 import Fts5Index

    return Fts5Index(settings, connect, chunk_count)
