"""Stored sentence vectors: int8 codes with a per-vector scale, and float16 rows of older indexes."""

from __future__ import annotations

import numpy as np
import pytest

from qa.errors import CorruptIndexError
from qa.vectors.codes import sentence_codes, sentence_vector


def unit_rows(count: int, dimension: int = 384) -> np.ndarray:
    vectors = np.random.default_rng(7).normal(size=(count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_codes_take_388_bytes_and_keep_the_direction() -> None:
    vectors = unit_rows(200)
    codes = sentence_codes(vectors)
    assert {len(code) for code in codes} == {388}
    back = np.stack([sentence_vector(code, 384) for code in codes])
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-6)
    assert np.sum(back * vectors, axis=1).min() > 0.9999


def test_float16_rows_of_older_indexes_are_read() -> None:
    vector = unit_rows(1)[0]
    assert float(sentence_vector(vector.astype(np.float16).tobytes(), 384) @ vector) > 0.99999


def test_a_zero_vector_stays_zero() -> None:
    (code,) = sentence_codes(np.zeros((1, 384), dtype=np.float32))
    assert not sentence_vector(code, 384).any()


def test_a_value_of_another_size_asks_for_a_rebuild() -> None:
    with pytest.raises(CorruptIndexError, match="--rebuild"):
        sentence_vector(b"\x00" * 100, 384)
