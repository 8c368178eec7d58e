"""Incremental indexing as plan (pure diff) -> prepare (pure map, on an executor) -> commit (the store)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ..loaders import load_paths
from ..models import Changes, Document, IndexReport
from .executors import Executor
from .plan import IndexPlan, gather, plan


class IndexWriter(Protocol):
    """Where prepared documents are committed: one index folder (`Store`) or its shards (`ShardedStore`)."""

    def content_hashes(self) -> dict[str, tuple[str, str]]: ...

    def apply(self, changes: Changes) -> None: ...


class Indexer:
    """Turns documents into stored chunks, sentences and vectors, embedding only what changed."""

    def __init__(self, store: IndexWriter, executor: Executor) -> None:
        self.store = store
        self.executor = executor

    def index_paths(self, paths: Iterable[str | Path], progress: bool = False) -> IndexReport:
        """Bring the index in line with files and folders: add new, update changed, remove deleted."""
        began = time.perf_counter()
        documents, skipped, roots = gather(load_paths(paths))
        work = plan(documents, self.store.content_hashes(), roots)
        work.report.skipped = skipped
        return self._commit(work, progress, began)

    def upsert(self, documents: list[Document], progress: bool = False) -> IndexReport:
        """Add or replace documents without touching others (uploads)."""
        began = time.perf_counter()
        return self._commit(plan(documents, self.store.content_hashes()), progress, began)

    def delete(self, doc_ids: list[str]) -> IndexReport:
        """Remove documents by id."""
        self.store.apply(Changes(deletes=doc_ids))
        return IndexReport(removed=list(doc_ids))

    def _commit(self, work: IndexPlan, progress: bool, began: float) -> IndexReport:
        if not work.is_empty:
            prepared = self.executor.prepare(work.changed, progress)
            work.report.chunks = sum(len(p.chunks) for p in prepared)
            self.store.apply(Changes(prepared, work.removed, work.moved_roots))
        work.report.seconds = time.perf_counter() - began
        return work.report
