"""The vector-index seam: chunk vectors searched by inner product, chosen by settings and corpus size.

`fit` is the policy: exact search while the corpus is small, an inverted-file index once it is
large (`VectorSettings`, thresholds measured in docs/performance.md), or always exact when
`QA_VECTOR_INDEX=flat`. Every implementation keys vectors by the store's chunk ids, so deletes
and incremental adds work the same way on each.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, Self

import numpy as np

from ..config import VectorSettings

FLAT = "flat"
IVF_FP16 = "ivf-fp16"


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


class VectorIndex(Protocol):
    """Chunk vectors by chunk id; the store writes a copy and commits it as a new generation."""

    dimension: int

    def __len__(self) -> int: ...

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, inner product) of the k nearest vectors, best first."""
        ...

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors under their chunk ids."""
        ...

    def remove(self, ids: np.ndarray) -> None:
        """Remove the vectors of these chunk ids (ids not present are ignored)."""
        ...

    def copy(self) -> Self:
        """An independent copy to write to while readers keep searching this one."""
        ...

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """All vectors (decoded) and their chunk ids."""
        ...

    def info(self) -> VectorIndexInfo:
        """The kind and parameters of this index."""
        ...

    @property
    def implementation(self) -> str:
        """The class that holds the vectors (e.g. FAISS's IndexFlatIP), for `qa index --stats`."""
        ...

    def save(self, path: Path) -> str:
        """Write to `path` durably (fsynced); returns the file's SHA-256."""
        ...


def empty_index(dimension: int) -> VectorIndex:
    """An empty exact index."""
    from .faiss_index import FlatIndex

    return FlatIndex.empty(dimension)


def build(vectors: np.ndarray, ids: np.ndarray, dimension: int, settings: VectorSettings = VectorSettings()) -> VectorIndex:
    """A fresh index of the kind `len(vectors)` and `settings` call for, holding `vectors` under `ids`."""
    from .faiss_index import FlatIndex, IvfIndex

    if settings.kind == FLAT or len(vectors) < settings.ivf_threshold:
        index = FlatIndex.empty(dimension)
        if len(vectors):
            index.add(vectors, ids)
        return index
    return IvfIndex.build(vectors, ids, dimension, settings)


def fit(index: VectorIndex, settings: VectorSettings = VectorSettings()) -> VectorIndex:
    """The index the current size calls for: `index` itself, or a rebuilt one of the right kind."""
    size, info = len(index), index.info()
    if info.kind == FLAT:
        return build(*index.contents(), index.dimension, settings) if settings.kind != FLAT and size >= settings.ivf_threshold else index
    # Rebuild the lists when the corpus outgrew the size they suit, or drop back to exact search.
    if settings.kind == FLAT or size < settings.flat_threshold or size > settings.retrain_growth * max(1, info.trained_on):
        return build(*index.contents(), index.dimension, settings)
    return index


def read_index(path: Path, sha256: str | None) -> VectorIndex:
    """Read a vector file, refusing it (ValueError) when its bytes differ from those committed with it."""
    from .faiss_index import read

    # Hashed as a stream and then read from the file: holding the bytes and the index at once
    # doubled peak memory (800 MB more at a million chunks). A generation's file is never
    # rewritten in place, so the bytes hashed are the bytes read.
    if sha256 is not None:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if digest != sha256:
            raise ValueError("its checksum does not match the one recorded when it was written")
    return read(path)
