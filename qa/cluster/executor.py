"""The Ray executor: Ray Data runs the pure prepare step (chunk, embed) in a pool of actors across a cluster."""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from ..config import ChunkingSettings, ClusterSettings, EmbeddingSettings
from ..models import Document, PreparedDocument
from . import connect, cpus_needed, disconnect


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

    def prepare(self, groups: Iterable[Sequence[Document]]) -> Iterator[list[PreparedDocument]]:
        """Chunk and embed on the cluster; each group is yielded, in order, once all its documents are back."""
        groups = [list(group) for group in groups]
        rows = self.stream([doc for group in groups for doc in group])
        # Documents arrive in any order; a group is complete once every position up to its end has arrived.
        arrived: dict[int, PreparedDocument] = {}
        start = 0
        for group in groups:
            end = start + len(group)
            while any(position not in arrived for position in range(start, end)):
                found = next(rows, None)
                assert found is not None, f"Ray Data returned no result for {[d.doc_id for d in group]}"
                arrived[found[0]] = found[1]
            yield [arrived.pop(position) for position in range(start, end)]
            start = end

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

