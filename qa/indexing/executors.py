"""The executor seam: where the pure prepare step runs. Local by default; a process pool or a Ray cluster on request."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Protocol

from ..config import ChunkingSettings, EmbeddingSettings, Settings
from ..encoders import Encoder, create_encoder
from ..models import Document, PreparedDocument
from .prepare import prepare


class Executor(Protocol):
    """Runs `prepare` over groups of documents, yielding each group's results as soon as they are ready."""

    def prepare(self, groups: Iterable[Sequence[Document]]) -> Iterator[list[PreparedDocument]]:
        """Chunk and embed each group; groups (and documents within) come back in the order given."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class LocalExecutor:
    """In this process, with the encoder the engine already loaded."""

    def __init__(self, encoder: Encoder, chunking: ChunkingSettings) -> None:
        self.encoder = encoder
        self.chunking = chunking

    def prepare(self, groups: Iterable[Sequence[Document]]) -> Iterator[list[PreparedDocument]]:
        """Chunk and embed here, one group at a time."""
        for group in groups:
            yield prepare(group, self.encoder, self.chunking)

    def close(self) -> None:
        """Nothing to release."""


class ProcessExecutor:
    """A pool of worker processes, each loading its own encoder once, for machines with cores to spare."""

    def __init__(self, embedding: EmbeddingSettings, chunking: ChunkingSettings, workers: int) -> None:
        self.embedding = embedding
        self.chunking = chunking
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def prepare(self, groups: Iterable[Sequence[Document]]) -> Iterator[list[PreparedDocument]]:
        """Chunk and embed in the pool, a group per task, a few groups ahead of the one being committed."""
        if self._pool is None:
            # Spawned, not forked: torch's thread pools do not survive a fork.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, context, initializer=_start_worker,
                                             initargs=(self.embedding, self.workers))
        pool = self._pool
        # Two groups per worker in flight keeps every worker busy while bounding what waits in memory.
        ahead: deque[Future[list[PreparedDocument]]] = deque()
        try:
            for group in groups:
                ahead.append(pool.submit(_prepare_in_worker, list(group), self.chunking))
                if len(ahead) >= 2 * self.workers:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
        finally:
            for future in ahead:  # the run stopped early: work not yet started is dropped
                future.cancel()

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def create_executor(settings: Settings, encoder: Encoder) -> Executor:
    """The executor `settings.indexing.executor` names."""
    if settings.cluster.ray_address:
        from ..cluster.executor import RayExecutor

        return RayExecutor(settings.embedding, settings.chunking, settings.indexing.workers, settings.cluster)
    if settings.indexing.executor == "processes":
        return ProcessExecutor(settings.embedding, settings.chunking, settings.indexing.workers)
    return LocalExecutor(encoder, settings.chunking)


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
