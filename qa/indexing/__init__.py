"""Incremental indexing as plan (pure diff) -> prepare (pure map, on an executor) -> commit (the store), in batches.

A run commits a batch every `commit_chunks` prepared chunks or `commit_seconds`, so an interrupted
run keeps what it committed and the next run, planned from content hashes, prepares only the rest.
Each document is inside one batch whole. Deletes and moved folders wait for the last commit: only
then has the plan been carried out, and until then a replaced or renamed document keeps answering.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..faults import Crash
from ..loaders import load_paths
from ..models import Changes, Document, IndexReport, PreparedDocument
from .executors import Executor
from .plan import IndexPlan, gather, plan
from .progress import Silent, Tally, display

# A file in the index folder while a `QA.index` run is under way: left behind, it tells `qa serve` the
# index is stale however new its database, since a stopped run's commits are newer than its files.
UNFINISHED = "indexing-unfinished"
# Documents are sent to the executor in groups of about this many chunks (fewer if a batch is smaller):
# big enough that the encoder's length-sorted batches stay full, small enough for a steady display.
GROUP_CHUNKS = 256
# Characters per chunk assumed when grouping (SQuAD text at 200-token chunks: ~900); only the group
# sizes depend on it, never what is committed when.
CHARS_PER_CHUNK = 900


class IndexWriter(Protocol):
    """Where prepared documents are committed: one index folder (`Store`) or its shards (`ShardedStore`)."""

    def content_hashes(self) -> dict[str, tuple[str, str]]: ...

    def apply(self, changes: Changes) -> None: ...


@dataclass(frozen=True)
class CommitPolicy:
    """When a run commits what it has prepared: every `chunks` chunks or `seconds` seconds, whichever comes first."""

    chunks: int = 2000
    seconds: float = 60.0


# An upload is one request: committed whole, its response says exactly what the index now holds.
WHOLE = CommitPolicy(chunks=2**62, seconds=float("inf"))


class IndexingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; the batches committed before it are kept."""

    def __init__(self, tally: Tally) -> None:
        super().__init__()
        self.tally = tally

    def __str__(self) -> str:
        tally = self.tally
        return (f"{tally.committed_documents} of {tally.documents} documents ({tally.committed_chunks} chunks, "
                f"{tally.batches} batches) are committed and kept; run the same command again to index the rest")


class Indexer:
    """Turns documents into stored chunks, sentences and vectors, embedding only what changed."""

    def __init__(self, store: IndexWriter, executor: Executor, policy: CommitPolicy = CommitPolicy(),
                 crash: Crash | None = None) -> None:
        self.store = store
        self.executor = executor
        self.policy = policy
        self.crash = crash or Crash()

    def index_paths(self, paths: Iterable[str | Path], progress: bool = False) -> IndexReport:
        """Bring the index in line with files and folders: add new, update changed, remove deleted."""
        began = time.perf_counter()
        documents, skipped, roots = gather(load_paths(paths))
        work = plan(documents, self.store.content_hashes(), roots)
        work.report.skipped = skipped
        return self._run(work, self.policy, progress, began)

    def upsert(self, documents: list[Document], progress: bool = False) -> IndexReport:
        """Add or replace documents without touching others (uploads), in one commit."""
        began = time.perf_counter()
        return self._run(plan(documents, self.store.content_hashes()), WHOLE, progress, began)

    def delete(self, doc_ids: list[str]) -> IndexReport:
        """Remove documents by id."""
        self.store.apply(Changes(deletes=doc_ids))
        return IndexReport(removed=list(doc_ids))

    def _run(self, work: IndexPlan, policy: CommitPolicy, progress: bool, began: float) -> IndexReport:
        shown = display(work.changed, progress)
        batch: list[PreparedDocument] = []
        since = time.perf_counter()
        try:
            for group in self.executor.prepare(groups(work.changed, min(GROUP_CHUNKS, max(1, policy.chunks // 2)))):
                shown.prepared(group)
                batch.extend(group)
                if sum(len(p.chunks) for p in batch) >= policy.chunks or time.perf_counter() - since >= policy.seconds:
                    self._commit(Changes(batch), shown)
                    batch, since = [], time.perf_counter()
                    self.crash.reached("between-batches")
                elif shown.tally.batches:
                    self.crash.reached("mid-prepare")
            self._commit(Changes(batch, work.removed, work.moved_roots), shown)
        except KeyboardInterrupt as stop:
            raise IndexingInterrupted(shown.tally) from stop
        finally:
            shown.close()
        work.report.chunks = shown.tally.committed_chunks
        work.report.seconds = time.perf_counter() - began
        return work.report

    def _commit(self, changes: Changes, shown: Silent) -> None:
        if not (changes.upserts or changes.deletes or changes.roots):
            return
        with interrupts_deferred():
            self.store.apply(changes)
            shown.committed(len(changes.upserts), sum(len(p.chunks) for p in changes.upserts))


def groups(documents: Sequence[Document], chunks: int) -> Iterator[list[Document]]:
    """`documents` in runs of about `chunks` chunks (guessed from their text length), order kept."""
    limit = chunks * CHARS_PER_CHUNK
    group: list[Document] = []
    size = 0
    for doc in documents:
        group.append(doc)
        size += len(doc.text)
        if size >= limit:
            yield group
            group, size = [], 0
    if group:
        yield group


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C during a commit takes effect once the commit is done: it is short, and then kept whole."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives SIGINT
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
