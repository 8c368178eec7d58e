"""The indexing loop's batching: commits every N chunks or T seconds, documents whole, deletes last, Ctrl-C kept whole.

The executor and store here are stand-ins; the real ones are stopped and resumed in tests/test_resume.py."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pytest

from qa.indexing import CommitPolicy, Indexer, IndexingInterrupted, groups
from qa.indexing.plan import IndexPlan
from qa.indexing.progress import Lines, Tally
from qa.models import Changes, Chunk, Document, PreparedDocument


def doc(n: int, chars: int = 100) -> Document:
    return Document(f"d{n}.txt", f"/docs/d{n}.txt", f"d{n}", "x" * chars, f"h{n}", root="/docs")


def prepared(document: Document, chunks: int) -> PreparedDocument:
    pieces = [Chunk(document.doc_id, i, 0, 1, "x", ()) for i in range(chunks)]
    return PreparedDocument(document, pieces, np.zeros((chunks, 4), np.float32), [], np.zeros((0, 4), np.float32))


class Executor:
    """Gives each document `chunks[doc]` chunks."""

    def __init__(self, chunks: dict[str, int]) -> None:
        self.chunks = chunks
        self.groups: list[list[str]] = []

    def prepare(self, groups: Iterable[Sequence[Document]]) -> Iterator[list[PreparedDocument]]:
        for group in groups:
            self.groups.append([d.doc_id for d in group])
            yield [prepared(d, self.chunks[d.doc_id]) for d in group]

    def close(self) -> None:
        pass


class Store:
    def __init__(self, on_apply=None) -> None:
        self.commits: list[Changes] = []
        self.on_apply = on_apply

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        return {"gone.txt": ("h", "/docs")}

    def apply(self, changes: Changes) -> None:
        if self.on_apply:
            self.on_apply(len(self.commits))
        self.commits.append(changes)


def run(policy: CommitPolicy, documents: list[Document], chunks: dict[str, int], store: Store | None = None) -> Store:
    store = store or Store()
    work = IndexPlan(changed=documents, removed=["gone.txt"], moved_roots={"moved.txt": "/docs"})
    Indexer(store, Executor(chunks), policy)._run(work, policy, False, 0.0)
    return store


def test_groups_keep_order_and_cut_by_text_length() -> None:
    documents = [doc(n, 500) for n in range(5)]
    cut = list(groups(documents, 1))  # about 900 characters a group
    assert [d for g in cut for d in g] == documents
    assert [len(g) for g in cut] == [2, 2, 1]


def test_a_batch_is_committed_every_n_chunks_with_whole_documents_and_deletes_last() -> None:
    documents = [doc(n, 1800) for n in range(6)]  # a group each (groups of about half a batch)
    store = run(CommitPolicy(chunks=5, seconds=3600), documents, {f"d{n}.txt": 2 for n in range(6)})
    batches = [[p.document.doc_id for p in c.upserts] for c in store.commits]
    assert batches == [["d0.txt", "d1.txt", "d2.txt"], ["d3.txt", "d4.txt", "d5.txt"], []]
    assert [list(c.deletes) for c in store.commits] == [[], [], ["gone.txt"]]
    assert [c.roots for c in store.commits] == [{}, {}, {"moved.txt": "/docs"}]


def test_a_batch_is_committed_when_time_is_up_however_few_its_chunks() -> None:
    store = run(CommitPolicy(chunks=1000, seconds=0.0), [doc(n, 256 * 900) for n in range(3)], {f"d{n}.txt": 1 for n in range(3)})
    assert [len(c.upserts) for c in store.commits] == [1, 1, 1, 0] and list(store.commits[-1].deletes) == ["gone.txt"]


def test_nothing_to_do_commits_nothing() -> None:
    store = Store()
    Indexer(store, Executor({}))._run(IndexPlan(), CommitPolicy(), False, 0.0)
    assert store.commits == []


def test_ctrl_c_inside_a_commit_lets_it_finish_then_stops_with_what_is_kept() -> None:
    def interrupt_the_second(number: int) -> None:
        if number == 1:
            os.kill(os.getpid(), signal.SIGINT)

    store = Store(interrupt_the_second)
    with pytest.raises(IndexingInterrupted) as stopped:
        run(CommitPolicy(chunks=2, seconds=3600), [doc(n, 900) for n in range(6)], {f"d{n}.txt": 1 for n in range(6)}, store)
    assert len(store.commits) == 2 and not any(c.deletes for c in store.commits)
    assert str(stopped.value).startswith("4 of 6 documents (4 chunks, 2 batches) are committed and kept")


def test_plain_progress_lines_count_chunks_documents_and_commits() -> None:
    documents = [doc(0, 300), doc(1, 100)]
    stream = io.StringIO()
    shown = Lines(Tally(documents), stream)
    shown.prepared([prepared(documents[0], 3)])
    shown.committed(1, 3)
    shown.prepared([prepared(documents[1], 1)])
    shown.close()
    first, last = stream.getvalue().splitlines()[0], stream.getvalue().splitlines()[-1]
    assert first.startswith("indexing: 3/~4 chunks (75%), 1/2 documents, ")
    assert "committed 0 chunks in 0 batches; file /docs/d0.txt: 3/~3 chunks (100%)" in first
    assert last.startswith("indexing: 4/~4 chunks (100%), 2/2 documents, ") and "ETA 0s; committed 3 chunks in 1 batches" in last
