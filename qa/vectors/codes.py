"""How a sentence vector is stored in SQLite: int8 codes with a per-vector scale (388 bytes for 384 dimensions).

float16 took 768 bytes a vector, most of a large index's database; int8 with one float32 scale
per vector halves that and kept answer quality within 0.005 on SQuAD and PolicyQA
(docs/performance.md). Rows written as float16 by earlier versions are still read.
"""

from __future__ import annotations

import numpy as np

from ..errors import REBUILD_HINT, CorruptIndexError

_SCALE_BYTES = 4


def sentence_codes(vectors: np.ndarray) -> list[bytes]:
    """One stored value per row of `vectors`: int8 codes (value / scale, scale = max |value| / 127) then the float32 scale."""
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(vectors).max(axis=1, initial=0.0) / 127
    scales[scales == 0] = 1.0
    codes = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    scale_bytes = scales.astype("<f4")
    return [codes[i].tobytes() + scale_bytes[i].tobytes() for i in range(len(codes))]


def sentence_vector(stored: bytes, dimension: int) -> np.ndarray:
    """The unit-length float32 vector of a stored value (int8 codes, or float16 from indexes before them)."""
    if len(stored) == dimension + _SCALE_BYTES:
        scale = np.frombuffer(stored, dtype="<f4", offset=dimension)[0]
        vector = np.frombuffer(stored, dtype=np.int8, count=dimension).astype(np.float32) * scale
    elif len(stored) == 2 * dimension:
        vector = np.frombuffer(stored, dtype=np.float16).astype(np.float32)
    else:
        raise CorruptIndexError(
            f"A stored sentence vector has {len(stored)} bytes; {dimension} dimensions need {dimension + _SCALE_BYTES}. {REBUILD_HINT}"
        )
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
