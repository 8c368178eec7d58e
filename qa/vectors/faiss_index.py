"""FAISS implementations of the vector index: exact inner product, and IVF with float16 codes.

Exact search reads every vector for every query, so its cost grows with the corpus; the IVF index
reads only the `nprobe` nearest lists and keeps vectors as float16 (half the bytes). 8-bit codes
would keep a quarter, but their rounding reorders near-tied neighbours enough to hold recall@10
below 0.98 on near-duplicate chunks, and there is no exact copy to re-rank from without keeping
float32 vectors in memory.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Self

import faiss
import numpy as np

from ..config import VectorSettings
from . import FLAT, IVF_FP16, VectorIndexInfo


class _FaissIndex:
    """What both kinds share: search, add, copy and the durable file write."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        self.dimension = int(index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, inner product) of the k nearest vectors, best first."""
        if self.index.ntotal == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # One query gains little from a second OpenMP thread and loses much while the other core is
        # busy, as a server's always is (exact search of 20k vectors at load 5: 14-31 ms with two
        # threads, 1.7-2.1 ms with one). The thread count is a setting of the calling thread only.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(query, min(k, int(self.index.ntotal)))
        finally:
            faiss.omp_set_num_threads(threads)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors under their chunk ids."""
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))

    def copy(self) -> Self:
        """An independent copy (FAISS clone)."""
        return type(self)(faiss.clone_index(self.index))

    def remove(self, ids: np.ndarray) -> None:
        """Remove the vectors of these chunk ids (ids not present are ignored)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        # An explicit id array: the IVF id hashtable refuses FAISS's default id batch.
        self.index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))

    def save(self, path: Path) -> str:
        """Write to `path` and fsync; returns the file's SHA-256."""
        # write_index streams to the file: serialize_index built the bytes in a growing buffer
        # first (16 s for the 1M-chunk IVF here, against 1.3 s to write them).
        faiss.write_index(self.index, str(path))
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
            return hashlib.file_digest(handle, "sha256").hexdigest()


class FlatIndex(_FaissIndex):
    """Exact inner-product search (`IndexIDMap2` over `IndexFlatIP`): every vector, every query."""

    index: faiss.IndexIDMap2

    @classmethod
    def empty(cls, dimension: int) -> FlatIndex:
        """An empty exact index keyed by chunk id."""
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """All vectors and their chunk ids."""
        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        flat = faiss.downcast_index(self.index.index)
        vectors = flat.reconstruct_n(0, flat.ntotal) if flat.ntotal else np.zeros((0, self.dimension), dtype=np.float32)
        return vectors, ids

    def info(self) -> VectorIndexInfo:
        """Kind and size."""
        return VectorIndexInfo(FLAT, len(self))

    @property
    def implementation(self) -> str:
        """The FAISS class under the id map."""
        return type(faiss.downcast_index(self.index.index)).__name__


class IvfIndex(_FaissIndex):
    """Inverted lists with float16 codes (`IndexIVFScalarQuantizer`), nprobe tuned to a recall target."""

    index: faiss.IndexIVF

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray, dimension: int, settings: VectorSettings) -> IvfIndex:
        """Train lists for `len(vectors)`, add the vectors, tune nprobe."""
        size = len(vectors)
        nlist = ivf_lists(size)
        quantizer = faiss.IndexFlatIP(dimension)
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        ivf.own_fields = True
        quantizer.this.disown()  # type: ignore[attr-defined]  # SWIG ownership handle, absent from faiss's stubs
        sample = vectors
        limit = nlist * settings.train_points_per_list
        if size > limit:
            sample = vectors[np.random.default_rng(0).choice(size, limit, replace=False)]
        ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
        # A hashtable from chunk id to list position makes deletes and reconstruction direct.
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # absent from faiss's stubs
        index = cls(ivf)
        index.add(vectors, ids)
        ivf.nprobe = tune_nprobe(ivf, vectors, ids, settings)
        return index

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """All vectors (decoded from float16) and their chunk ids."""
        lists = self.index.invlists
        assert lists is not None  # every trained IVF index has its lists
        parts = []
        for number in range(self.index.nlist):
            size = lists.list_size(number)
            if size:
                parts.append(faiss.rev_swig_ptr(lists.get_ids(number), size).copy())
        ids = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
        vectors = self.index.reconstruct_batch(ids) if len(ids) else np.zeros((0, self.dimension), dtype=np.float32)
        return vectors, ids

    def info(self) -> VectorIndexInfo:
        """Kind, size, lists, probes, and the corpus size the lists suit."""
        return VectorIndexInfo(IVF_FP16, len(self), int(self.index.nlist), int(self.index.nprobe), self.trained_on)

    @property
    def trained_on(self) -> int:
        """The corpus size the lists suit: `ivf_lists` picked this list count for sizes around it."""
        # FAISS files hold no free-form fields, so that size is derived from the list count.
        return (int(self.index.nlist) // 4) ** 2

    @property
    def implementation(self) -> str:
        """The FAISS IVF class."""
        return type(self.index).__name__


def read(path: Path, mmap: bool = False) -> FlatIndex | IvfIndex:
    """A vector file as the implementation that wrote it; `mmap` maps an IVF file's lists read-only."""
    # read_index gives the concrete class already; a downcast wrapper would not own the index.
    # Mapped lists are paged in by the OS as queries touch them (1M chunks: read 0.24 s instead of
    # 2.0 s); FAISS cannot change them, so only a generation's read-only base is mapped.
    if mmap:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
        if isinstance(index, faiss.IndexIVF):
            return IvfIndex(index)
        return FlatIndex(index)
    index = faiss.read_index(str(path))
    return IvfIndex(index) if isinstance(index, faiss.IndexIVF) else FlatIndex(index)


def tune_nprobe(ivf: faiss.IndexIVF, vectors: np.ndarray, ids: np.ndarray, settings: VectorSettings) -> int:
    """The fewest probed lists (a power of two) that reach `settings.target_recall` at 10."""
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, len(vectors), size=(settings.tuning_queries, 2))
    mixed = vectors[pairs[:, 0]] + 0.5 * vectors[pairs[:, 1]]
    queries = (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)
    exact = faiss.IndexFlatIP(ivf.d)
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    _, truth = exact.search(queries, 10)
    truth_ids = [set(ids[row].tolist()) for row in truth]
    nprobe = min(settings.min_nprobe, ivf.nlist)
    while nprobe < ivf.nlist:
        ivf.nprobe = nprobe
        _, found = ivf.search(queries, 10)
        recall = sum(len(t & set(f.tolist())) for t, f in zip(truth_ids, found, strict=True)) / (10 * len(queries))
        if recall >= settings.target_recall:
            break
        nprobe *= 2
    return min(nprobe, ivf.nlist)


def ivf_lists(size: int) -> int:
    """Inverted lists for `size` vectors: about 4 * sqrt(size), a power of two, each list trainable."""
    return max(1, min(2 ** round(math.log2(4 * math.sqrt(size))), size // 8))
