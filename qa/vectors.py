"""The FAISS index of chunk vectors, chosen by corpus size: exact while small, IVF (float16) once large.

Exact inner-product search reads every vector for every query, so its cost grows with the corpus;
past `ivf_threshold` vectors an inverted-file index reads only the `nprobe` nearest lists and keeps
vectors as float16 (half the bytes). 8-bit codes would keep a quarter, but their rounding reorders
near-tied neighbours enough to hold recall@10 below 0.98 on near-duplicate chunks, and there is no
exact copy to re-rank from without keeping float32 vectors in memory. Both kinds hold the store's chunk
ids directly, so deletes and incremental adds work the same way on either.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import faiss
import numpy as np

FLAT = "flat"
IVF_FP16 = "ivf-fp16"


@dataclass(frozen=True)
class VectorSettings:
    """When to switch index kinds and how the IVF index is shaped (thresholds measured in docs/performance.md)."""

    # Below this many vectors exact search costs under ~1 ms a query here; above, IVF pays off.
    ivf_threshold: int = 20_000
    # Back to exact below this (hysteresis, so a delete at the border does not rebuild twice).
    flat_threshold: int = 10_000
    # Rebuild the IVF lists when the corpus outgrew the size their count suits by this factor
    # (FAISS files hold no free-form fields, so that size is derived from the list count).
    retrain_growth: float = 8.0
    # nprobe is tuned at build time: the fewest lists whose recall@10 against exact search reaches
    # this on probe queries drawn from the corpus itself (a stored vector blended with half of
    # another, off-centre the way questions are).
    target_recall: float = 0.99
    tuning_queries: int = 200
    min_nprobe: int = 8
    # Training on more than this many points per list buys nothing but time.
    train_points_per_list: int = 64


@dataclass(frozen=True)
class VectorIndexInfo:
    """What kind of index holds the vectors and with which parameters (shown by `qa index --stats`)."""

    kind: str
    vectors: int
    nlist: int = 0
    nprobe: int = 0
    trained_on: int = 0

    def to_dict(self) -> dict[str, int | str]:
        """JSON-ready form."""
        return asdict(self)


def empty(dimension: int) -> faiss.Index:
    """An empty exact index keyed by chunk id."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def describe(index: faiss.Index) -> VectorIndexInfo:
    """The kind and parameters of `index`."""
    ivf = _as_ivf(index)
    if ivf is None:
        return VectorIndexInfo(FLAT, int(index.ntotal))
    return VectorIndexInfo(IVF_FP16, int(ivf.ntotal), int(ivf.nlist), int(ivf.nprobe), _trained_on(ivf))


def class_name(index: faiss.Index) -> str:
    """The FAISS class that holds the vectors (IndexFlatIP under the id map, or the IVF class)."""
    ivf = _as_ivf(index)
    return type(ivf if ivf is not None else faiss.downcast_index(faiss.downcast_index(index).index)).__name__


def add(index: faiss.Index, vectors: np.ndarray, ids: np.ndarray) -> None:
    """Add vectors under their chunk ids."""
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))


def remove(index: faiss.Index, ids: np.ndarray) -> None:
    """Remove the vectors of these chunk ids (ids not present are ignored)."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if _as_ivf(index) is not None:
        # The IVF id hashtable only accepts an explicit id array, not the default id batch.
        index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))
    else:
        index.remove_ids(ids)


def search(index: faiss.Index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(chunk id, inner product) of the k nearest vectors, best first."""
    if index.ntotal == 0 or k <= 0:
        return []
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, int(index.ntotal)))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]


def fit(index: faiss.Index, settings: VectorSettings = VectorSettings()) -> faiss.Index:
    """The index the current size calls for: `index` itself, or a rebuilt one of the right kind."""
    size = int(index.ntotal)
    ivf = _as_ivf(index)
    if ivf is None:
        return build(*contents(index), index.d, settings) if size >= settings.ivf_threshold else index
    if size < settings.flat_threshold or size > settings.retrain_growth * max(1, _trained_on(ivf)):
        return build(*contents(index), index.d, settings)
    return index


def build(vectors: np.ndarray, ids: np.ndarray, dimension: int, settings: VectorSettings = VectorSettings()) -> faiss.Index:
    """A fresh index of the kind `len(vectors)` calls for, holding `vectors` under `ids`."""
    size = len(vectors)
    if size < settings.ivf_threshold:
        index = empty(dimension)
        if size:
            add(index, vectors, ids)
        return index
    nlist = ivf_lists(size)
    quantizer = faiss.IndexFlatIP(dimension)
    ivf = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    ivf.own_fields = True
    quantizer.this.disown()
    sample = vectors
    limit = nlist * settings.train_points_per_list
    if size > limit:
        sample = vectors[np.random.default_rng(0).choice(size, limit, replace=False)]
    ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
    # A hashtable from chunk id to list position makes deletes and reconstruction direct.
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    add(ivf, vectors, ids)
    ivf.nprobe = tune_nprobe(ivf, vectors, ids, settings)
    return ivf


def tune_nprobe(ivf: faiss.IndexIVF, vectors: np.ndarray, ids: np.ndarray, settings: VectorSettings) -> int:
    """The fewest probed lists (a power of two) that reach `settings.target_recall` at 10."""
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, len(vectors), size=(settings.tuning_queries, 2))
    queries = vectors[pairs[:, 0]] + 0.5 * vectors[pairs[:, 1]]
    queries = np.ascontiguousarray(queries / np.linalg.norm(queries, axis=1, keepdims=True), dtype=np.float32)
    exact = faiss.IndexFlatIP(ivf.d)
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    _, truth = exact.search(queries, 10)
    truth_ids = [set(ids[row].tolist()) for row in truth]
    nprobe = min(settings.min_nprobe, ivf.nlist)
    while nprobe < ivf.nlist:
        ivf.nprobe = nprobe
        _, found = ivf.search(queries, 10)
        recall = sum(len(t & set(f.tolist())) for t, f in zip(truth_ids, found)) / (10 * len(queries))
        if recall >= settings.target_recall:
            break
        nprobe *= 2
    return min(nprobe, ivf.nlist)


def ivf_lists(size: int) -> int:
    """Inverted lists for `size` vectors: about 4 * sqrt(size), a power of two, each list trainable."""
    return max(1, min(2 ** round(math.log2(4 * math.sqrt(size))), size // 8))


def contents(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """All vectors of `index` (decoded) and their chunk ids."""
    ivf = _as_ivf(index)
    if ivf is None:
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        flat = faiss.downcast_index(index.index)
        vectors = flat.reconstruct_n(0, flat.ntotal) if flat.ntotal else np.zeros((0, index.d), dtype=np.float32)
        return vectors, ids
    ids = _ivf_ids(ivf)
    vectors = ivf.reconstruct_batch(ids) if len(ids) else np.zeros((0, ivf.d), dtype=np.float32)
    return vectors, ids


def _as_ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    index = faiss.downcast_index(index)
    return index if isinstance(index, faiss.IndexIVF) else None


def _ivf_ids(ivf: faiss.IndexIVF) -> np.ndarray:
    lists = ivf.invlists
    parts = []
    for number in range(ivf.nlist):
        size = lists.list_size(number)
        if size:
            parts.append(faiss.rev_swig_ptr(lists.get_ids(number), size).copy())
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _trained_on(ivf: faiss.IndexIVF) -> int:
    """The corpus size the lists suit: `ivf_lists` picked this list count for sizes around it."""
    return (int(ivf.nlist) // 4) ** 2
