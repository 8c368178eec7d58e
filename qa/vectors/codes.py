"""How a sentence vector is stored in SQLite: 4-bit codes with a per-vector step (196 bytes for 384 dimensions).

Sentence vectors (six a chunk in the benchmark stores) are most of a large index's database: with
int8 codes (388 bytes) the 1M-chunk benchmark index was 4,902 MiB against the 4,096 MiB target; 4-bit codes
save 192 bytes a sentence, 1,099 MiB at 1M. Midrise levels ((n - 7.5) * step: all 16 used, none spent on
zero) with step = 0.36 rms clip values beyond 2.88 rms: on the real SQuAD sentence vectors a dot-product
error of 0.0057 (std), 0.0060 with step = max|value| / 8. Answer quality against int8 (docs/performance.md,
"Disk"): SQuAD pooled MRR@10 0.9080 both, gold in first sentence 0.7742 vs 0.7729; PolicyQA single-document
0.2769 vs 0.2766 and 0.2211 vs 0.2223; declined unchanged on both.
Rows of earlier versions are told apart by length and still read: int8 codes + float32 scale (388 bytes for
384 dimensions) and float16 (768 bytes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import REBUILD_HINT, CorruptIndexError

_FLOAT32_BYTES = 4
_LEVELS = 16
# Of 0.30, 0.335, 0.36 and 0.40 rms, 0.36 changed the best of ten nearest sentences least (4.6% of queries).
_STEP_PER_RMS = 0.36


def code_bytes(dimension: int) -> int:
    """Bytes of one stored sentence vector: two dimensions a byte, then the float32 step."""
    return (dimension + 1) // 2 + _FLOAT32_BYTES


def sentence_codes(vectors: np.ndarray) -> list[bytes]:
    """One stored value per row of `vectors`: 4-bit codes n (value ~ (n - 7.5) * step), two a byte, then the step."""
    vectors = np.asarray(vectors, dtype=np.float32)
    steps = np.sqrt(np.mean(np.square(vectors), axis=1)) * _STEP_PER_RMS
    safe = np.where(steps > 0, steps, 1.0)[:, None]  # a zero vector keeps step 0 and reads back as zeros
    levels = np.clip(np.floor(vectors / safe) + _LEVELS // 2, 0, _LEVELS - 1).astype(np.uint8)
    if levels.shape[1] % 2:
        levels = np.pad(levels, ((0, 0), (0, 1)))
    packed = levels[:, 0::2] | (levels[:, 1::2] << 4)
    step_bytes = steps.astype("<f4")
    return [packed[i].tobytes() + step_bytes[i].tobytes() for i in range(len(packed))]


def sentence_vector(stored: bytes, dimension: int) -> np.ndarray:
    """The unit-length float32 vector of a stored value (4-bit codes, or int8 / float16 rows of earlier versions)."""
    return sentence_vectors([stored], dimension)[0]


def sentence_vectors(stored: Sequence[bytes], dimension: int) -> np.ndarray:
    """The unit-length float32 vectors of stored values, one row each; rows of one format are decoded together."""
    # A question reads ~200 sentence vectors: one numpy pass per format instead of one per row
    # (1.5 ms of a question at 100k chunks went to per-row decoding).
    vectors = np.zeros((len(stored), dimension), dtype=np.float32)
    lengths = np.fromiter((len(value) for value in stored), dtype=np.int64, count=len(stored))
    for length in np.unique(lengths).tolist():
        rows = np.flatnonzero(lengths == length)
        vectors[rows] = _decode(b"".join(stored[i] for i in rows.tolist()), len(rows), length, dimension)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=vectors, where=norms > 0)


def _decode(data: bytes, count: int, length: int, dimension: int) -> np.ndarray:
    packed_bytes = (dimension + 1) // 2
    if length == packed_bytes + _FLOAT32_BYTES:
        rows = np.frombuffer(data, dtype=np.uint8).reshape(count, length)
        packed = rows[:, :packed_bytes]
        levels = np.empty((count, 2 * packed_bytes), dtype=np.float32)
        levels[:, 0::2], levels[:, 1::2] = packed & 15, packed >> 4
        steps = rows[:, packed_bytes:].copy().view("<f4")
        return (levels[:, :dimension] - (_LEVELS - 1) / 2) * steps
    if length == dimension + _FLOAT32_BYTES:
        rows = np.frombuffer(data, dtype=np.uint8).reshape(count, length)
        scales = rows[:, dimension:].copy().view("<f4")
        return rows[:, :dimension].view(np.int8).astype(np.float32) * scales
    if length == 2 * dimension:
        return np.frombuffer(data, dtype=np.float16).reshape(count, dimension).astype(np.float32)
    raise CorruptIndexError(
        f"A stored sentence vector has {length} bytes; {dimension} dimensions need {code_bytes(dimension)}. {REBUILD_HINT}"
    )
