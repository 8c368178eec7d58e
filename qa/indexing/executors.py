"""The executor seam: where the pure prepare step runs. Local by default; a process pool or a Ray cluster on request."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol

from ..config import ChunkingSettings, EmbeddingSettings, Settings
from ..encoders import Encoder, create_encoder
from ..models import Document, PreparedDocument
from .prepare import prepare


class Executor(Protocol):
    """Runs `prepare` over documents and returns the results in the documents' order."""

    def prepare(self, documents: Sequence[Document], progress: bool = False) -> list[PreparedDocument]:
        """Chunk and embed `documents`."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class LocalExecutor:
    """In this process, with the encoder the engine already loaded."""

    def __init__(self, encoder: Encoder, chunking: ChunkingSettings) -> None:
        self.encoder = encoder
        self.chunking = chunking

    def prepare(self, documents: Sequence[Document], progress: bool = False) -> list[PreparedDocument]:
        """Chunk and embed here."""
        return prepare(documents, self.encoder, self.chunking, progress)

    def close(self) -> None:
        """Nothing to release."""


class ProcessExecutor:
    """A pool of worker processes, each loading its own encoder once, for machines with cores to spare."""

    def __init__(self, embedding: EmbeddingSettings, chunking: ChunkingSettings, workers: int) -> None:
        self.embedding = embedding
        self.chunking = chunking
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def prepare(self, documents: Sequence[Document], progress: bool = False) -> list[PreparedDocument]:
        """Chunk and embed in the pool: documents are dealt out in contiguous shares of similar text size."""
        if not documents:
            return []
        if self._pool is None:
            # Spawned, not forked: torch's thread pools do not survive a fork.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, context, initializer=_start_worker,
                                             initargs=(self.embedding, self.workers))
        shares = _shares(documents, self.workers)
        results = self._pool.map(_prepare_in_worker, shares, [self.chunking] * len(shares))
        return [prepared for share in results for prepared in share]

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def create_executor(settings: Settings, encoder: Encoder) -> Executor:
    """The executor `settings.indexing.executor` names."""
    if settings.cluster.ray_address:
        from ..cluster.executor import RayExecutor

        return RayExecutor(settings.embedding, settings.chunking, settings.indexing.workers, settings.cluster)
    if settings.indexing.executor == "processes":
        return ProcessExecutor(settings.embedding, settings.chunking, settings.indexing.workers)
    return LocalExecutor(encoder, settings.chunking)


def _shares(documents: Sequence[Document], parts: int) -> list[list[Document]]:
    """`documents` cut into at most `parts` runs of about equal text length, order kept."""
    total = sum(len(d.text) for d in documents) or 1
    shares: list[list[Document]] = [[]]
    done = 0
    for doc in documents:
        if shares[-1] and done >= total * len(shares) / parts and len(shares) < parts:
            shares.append([])
        shares[-1].append(doc)
        done += len(doc.text)
    return shares


_worker_encoder: Encoder | None = None


def _start_worker(embedding: EmbeddingSettings, workers: int) -> None:
    global _worker_encoder
    import torch

    # Each worker gets its share of the cores; more threads than cores only contend.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    _worker_encoder = create_encoder(embedding)


def _prepare_in_worker(documents: list[Document], chunking: ChunkingSettings) -> list[PreparedDocument]:
    assert _worker_encoder is not None
    return prepare(documents, _worker_encoder, chunking)
