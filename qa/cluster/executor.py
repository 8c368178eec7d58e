"""The Ray executor: Ray Data runs the pure prepare step (chunk, embed) in a pool of actors across a cluster."""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Iterator, Sequence

import numpy as np

from ..config import ChunkingSettings, ClusterSettings, EmbeddingSettings
from ..models import Document, PreparedDocument
from . import connect, cpus_needed, disconnect

# Progress lines at most this often (plus the last one): a cluster job is read in its log.
PROGRESS_SECONDS = 5.0


class PrepareWorker:
    """One actor of the pool: loads the encoder once, then prepares batch after batch of documents."""

    def __init__(self, embedding: EmbeddingSettings, chunking: ChunkingSettings, threads: int) -> None:
        import torch

        from ..encoders import create_encoder

        # Ray gives the actor `threads` CPUs; torch would otherwise start one thread per core of the node.
        torch.set_num_threads(threads)
        self.encoder = create_encoder(embedding)
        self.chunking = chunking

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Documents (pickled) in, prepared documents (pickled) out, positions kept."""
        from ..indexing.prepare import prepare

        documents = [pickle.loads(data) for data in batch["document"]]
        prepared = prepare(documents, self.encoder, self.chunking)
        return {"position": batch["position"], "prepared": np.array([pickle.dumps(p) for p in prepared], dtype=object)}


class RayExecutor:
    """A Ray Data actor pool of `workers` encoders on the cluster `cluster.ray_address` names."""

    def __init__(self, embedding: EmbeddingSettings, chunking: ChunkingSettings, workers: int, cluster: ClusterSettings) -> None:
        self.embedding = embedding
        self.chunking = chunking
        self.workers = workers
        self.cluster = cluster

    def prepare(self, documents: Sequence[Document], progress: bool = False) -> list[PreparedDocument]:
        """Chunk and embed on the cluster; results in the documents' order."""
        results: list[PreparedDocument | None] = [None] * len(documents)
        report = _Progress(len(documents)) if progress else None
        for position, prepared in self.stream(documents):
            results[position] = prepared
            if report:
                report.step(len(prepared.chunks))
        missing = [documents[i].doc_id for i, p in enumerate(results) if p is None]
        assert not missing, f"Ray Data returned no result for {missing}"
        return [p for p in results if p is not None]

    def stream(self, documents: Sequence[Document]) -> Iterator[tuple[int, PreparedDocument]]:
        """(position in `documents`, prepared document) as the workers finish them, in no set order.

        A worker that dies is restarted and its batch run again (Ray Data's actor pool retries
        without limit), so a lost node costs time, never documents."""
        if not documents:
            return
        threads = self.cluster.worker_threads
        ray = connect(self.cluster, cpus_needed(self.workers, threads))
        items = [{"position": position, "document": pickle.dumps(doc)} for position, doc in enumerate(documents)]
        dataset = ray.data.from_items(items).map_batches(
            PrepareWorker,
            fn_constructor_args=(self.embedding, self.chunking, threads),
            batch_size=self.cluster.batch_documents,
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=threads,
        )
        for row in dataset.iter_rows():
            yield int(row["position"]), pickle.loads(row["prepared"])

    def close(self) -> None:
        """Leave the cluster (a local one stops)."""
        disconnect()


class _Progress:
    """Plain progress lines on stderr: documents and chunks done, chunks per second."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.documents = 0
        self.chunks = 0
        self.began = self.shown = time.perf_counter()

    def step(self, chunks: int) -> None:
        self.documents += 1
        self.chunks += chunks
        now = time.perf_counter()
        if now - self.shown >= PROGRESS_SECONDS or self.documents == self.total or self.documents == 1:
            self.shown = now
            rate = self.chunks / max(now - self.began, 1e-9)
            print(f"prepared {self.documents}/{self.total} documents, {self.chunks} chunks, {rate:.1f} chunks/s",
                  file=sys.stderr, flush=True)
