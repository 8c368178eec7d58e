"""Stored sentence vectors: 4-bit codes with a per-vector step, and the int8 and float16 rows of older indexes."""

from __future__ import annotations

import numpy as np
import pytest

from qa.errors import CorruptIndexError
from qa.vectors.codes import code_bytes, sentence_codes, sentence_vector, sentence_vectors


def unit_rows(count: int, dimension: int = 384) -> np.ndarray:
    vectors = np.random.default_rng(7).normal(size=(count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_codes_take_196_bytes_and_keep_the_direction() -> None:
    vectors = unit_rows(200)
    codes = sentence_codes(vectors)
    assert {len(code) for code in codes} == {196} == {code_bytes(384)}
    back = np.stack([sentence_vector(code, 384) for code in codes])
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-6)
    cosines = np.sum(back * vectors, axis=1)
    # 16 levels at 0.36 rms: expected cosine ~0.994 (0.9938 mean, 0.9866 lowest on real SQuAD sentence vectors).
    assert cosines.mean() > 0.99 and cosines.min() > 0.98


def test_two_levels_a_byte_low_half_first_and_an_odd_dimension_padded() -> None:
    vector = np.array([[1.0, -1.0, 0.2]], dtype=np.float32)
    (code,) = sentence_codes(vector)
    step = np.float32(np.sqrt(np.mean(np.square(vector))) * 0.36)
    # 1 / step = 3.37 -> level 8 + 3; -3.37 -> 8 - 4; 0.67 -> 8 + 0; the pad level is 0.
    assert code == bytes([11 | 4 << 4, 8]) + step.astype("<f4").tobytes()
    expected = np.array([3.5, -3.5, 0.5])
    assert np.allclose(sentence_vector(code, 3), expected / np.linalg.norm(expected))


def test_int8_rows_of_older_indexes_are_read() -> None:
    vector = unit_rows(1)[0]
    scale = np.abs(vector).max() / 127
    stored = np.rint(vector / scale).astype(np.int8).tobytes() + np.float32(scale).astype("<f4").tobytes()
    assert len(stored) == 388
    assert float(sentence_vector(stored, 384) @ vector) > 0.9999


def test_float16_rows_of_older_indexes_are_read() -> None:
    vector = unit_rows(1)[0]
    assert float(sentence_vector(vector.astype(np.float16).tobytes(), 384) @ vector) > 0.99999


def test_a_zero_vector_stays_zero() -> None:
    (code,) = sentence_codes(np.zeros((1, 384), dtype=np.float32))
    assert not sentence_vector(code, 384).any()


@pytest.mark.parametrize("size", [100, 195, 197, 387, 767])
def test_a_value_of_another_size_asks_for_a_rebuild(size: int) -> None:
    with pytest.raises(CorruptIndexError, match="--rebuild"):
        sentence_vector(b"\x00" * size, 384)


def test_rows_of_every_format_decode_together_as_each_alone() -> None:
    vectors = unit_rows(6)
    int8 = [np.rint(v / (np.abs(v).max() / 127)).astype(np.int8).tobytes() + np.float32(np.abs(v).max() / 127).tobytes()
            for v in vectors]
    stored = [sentence_codes(vectors[:1])[0], int8[1], vectors[2].astype(np.float16).tobytes(), *sentence_codes(vectors[3:5]),
              sentence_codes(np.zeros((1, 384), dtype=np.float32))[0]]
    together = sentence_vectors(stored, 384)
    assert together.shape == (6, 384) and sentence_vectors([], 384).shape == (0, 384)
    assert np.allclose(together, np.stack([sentence_vector(value, 384) for value in stored]), atol=1e-6)
    assert np.sum(together[:5] * vectors[:5], axis=1).min() > 0.98 and not together[5].any()
    with pytest.raises(CorruptIndexError, match="has 5 bytes"):
        sentence_vectors([stored[0], b"12345"], 384)
