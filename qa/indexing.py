"""Incremental indexing: load, split, embed only what changed, and commit it as one generation."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .chunking import chunk_document
from .embedding import Embedder
from .loading import load_paths
from .models import Document, Skipped
from .store import PreparedDocument, Store

# Titles longer than this are cut in the embedded text so they never crowd out the chunk itself.
MAX_TITLE_CHARS = 200


@dataclass
class IndexReport:
    """What an indexing run did, for the CLI summary and the API."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line of counts."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; {self.chunks} chunks embedded "
            f"in {self.seconds:.1f}s"
        )


@dataclass(frozen=True)
class ChunkingSettings:
    """How documents become chunks; recorded in the index so a change forces a rebuild."""

    max_tokens: int = 200
    overlap_sentences: int = 1
    title_in_chunk: bool = True

    @property
    def signature(self) -> str:
        """Stable text form stored in the index metadata."""
        return f"tokens={self.max_tokens};overlap={self.overlap_sentences};title={int(self.title_in_chunk)};v1"


class Indexer:
    """Turns documents into stored chunks, sentences and vectors."""

    def __init__(self, store: Store, embedder: Embedder, chunking: ChunkingSettings) -> None:
        self.store = store
        self.embedder = embedder
        self.chunking = chunking

    def index_paths(self, paths: Iterable[str | Path], progress: bool = False) -> IndexReport:
        """Bring the index in line with files and folders: add new, update changed, remove deleted."""
        began = time.perf_counter()
        report = IndexReport()
        documents: dict[str, Document] = {}
        roots: set[str] = set()
        for item in load_paths(paths):
            if isinstance(item, Skipped):
                report.skipped.append(item)
                continue
            roots.add(item.root)
            if item.doc_id in documents and documents[item.doc_id].root != item.root:
                # Two indexed folders hold the same relative path: keep both, told apart by folder.
                item = replace(item, doc_id=f"{Path(item.root).name}/{item.doc_id}")
            documents[item.doc_id] = item
        known = self.store.content_hashes()
        removed = [doc_id for doc_id, (_, root) in known.items() if root in roots and doc_id not in documents]
        self._apply(list(documents.values()), known, removed, report, progress)
        report.seconds = time.perf_counter() - began
        return report

    def upsert(self, documents: list[Document], progress: bool = False) -> IndexReport:
        """Add or replace documents without touching others (uploads)."""
        began = time.perf_counter()
        report = IndexReport()
        self._apply(documents, self.store.content_hashes(), [], report, progress)
        report.seconds = time.perf_counter() - began
        return report

    def delete(self, doc_ids: list[str]) -> IndexReport:
        """Remove documents by id."""
        report = IndexReport(removed=list(doc_ids))
        self.store.apply([], doc_ids)
        return report

    def _apply(self, documents: list[Document], known: dict[str, tuple[str, str]], removed: list[str], report: IndexReport, progress: bool) -> None:
        changed: list[Document] = []
        moved_roots: dict[str, str] = {}
        for doc in documents:
            previous = known.get(doc.doc_id)
            if previous is None:
                report.added.append(doc.doc_id)
                changed.append(doc)
            elif previous[0] != doc.content_hash:
                report.updated.append(doc.doc_id)
                changed.append(doc)
            else:
                report.unchanged.append(doc.doc_id)
                if previous[1] != doc.root:
                    moved_roots[doc.doc_id] = doc.root
        report.removed = removed
        if not changed and not removed and not moved_roots:
            return
        prepared = self.prepare(changed, progress)
        report.chunks = sum(len(p.chunks) for p in prepared)
        self.store.apply(prepared, removed, moved_roots)

    def prepare(self, documents: list[Document], progress: bool = False) -> list[PreparedDocument]:
        """Split and embed documents (outside any transaction, so readers are never blocked)."""
        plans = []
        chunk_texts: list[str] = []
        sentence_texts: list[str] = []
        for doc in documents:
            title = doc.title[:MAX_TITLE_CHARS]
            prefix = f"{title}. " if self.chunking.title_in_chunk and title else ""
            budget = self.embedder.chunk_budget - (self.embedder.count_tokens([prefix])[0] if prefix else 0)
            chunks = chunk_document(
                doc,
                self.embedder.count_tokens,
                max(16, min(self.chunking.max_tokens, budget)),
                self.chunking.overlap_sentences,
            )
            spans = sorted({(s.start, s.end) for chunk in chunks for s in chunk.sentences})
            plans.append((doc, chunks, len(chunk_texts), len(sentence_texts), spans))
            chunk_texts.extend(prefix + chunk.text for chunk in chunks)
            sentence_texts.extend(doc.text[s:e] for s, e in spans)
        show = progress and len(chunk_texts) > 200
        chunk_vectors = self.embedder.encode(chunk_texts, progress=show)
        sentence_vectors = self.embedder.encode(sentence_texts, progress=show)
        prepared = []
        for doc, chunks, chunk_at, sentence_at, spans in plans:
            prepared.append(
                PreparedDocument(
                    document=doc,
                    chunks=chunks,
                    chunk_vectors=np.ascontiguousarray(chunk_vectors[chunk_at : chunk_at + len(chunks)]),
                    sentence_spans=spans,
                    sentence_vectors=sentence_vectors[sentence_at : sentence_at + len(spans)],
                )
            )
        return prepared
