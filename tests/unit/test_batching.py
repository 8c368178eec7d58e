"""The question micro-batcher: many threads, one encoding thread, each caller gets its own vector or error."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qa.encoders.batching import MicroBatcher
from qa.errors import EncoderError


class SlowEncoder:
    """Stands in for the model: a vector that names its text, after a pause long enough for batches to form."""

    def __init__(self, pause: float = 0.02) -> None:
        self.pause = pause
        self.batches: list[list[str]] = []

    def __call__(self, texts) -> np.ndarray:
        self.batches.append(list(texts))
        time.sleep(self.pause)
        if any("bad" in text for text in texts):
            raise ValueError("cannot encode a bad text")
        return np.array([[float(text.split()[-1]), len(text)] for text in texts], dtype=np.float32)


def ask_from_threads(batcher: MicroBatcher, texts: list[str]) -> list[object]:
    def one(text: str) -> object:
        try:
            return batcher(text)
        except Exception as error:  # noqa: BLE001 - the outcome under test
            return error

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(one, texts))


def test_each_caller_gets_its_own_vector_and_batches_stay_bounded() -> None:
    encoder = SlowEncoder()
    batcher = MicroBatcher(encoder, max_batch=8)
    texts = [f"question {i}" for i in range(40)]
    results = ask_from_threads(batcher, texts)
    batcher.close()
    assert [float(r[0]) for r in results] == list(range(40))  # type: ignore[index]
    assert sorted(t for batch in encoder.batches for t in batch) == sorted(texts)
    assert max(len(batch) for batch in encoder.batches) <= 8
    assert len(encoder.batches) < 40, "concurrent questions were encoded together"


def test_an_error_reaches_only_the_caller_whose_text_failed() -> None:
    encoder = SlowEncoder()
    batcher = MicroBatcher(encoder, max_batch=16)
    texts = [f"question {i}" for i in range(10)] + ["bad question 99"]
    results = ask_from_threads(batcher, texts)
    batcher.close()
    assert isinstance(results[-1], ValueError)
    assert [float(r[0]) for r in results[:-1]] == list(range(10))  # type: ignore[index]


def test_a_lone_question_is_encoded_at_once_without_a_wait() -> None:
    encoder = SlowEncoder(pause=0)
    batcher = MicroBatcher(encoder, max_batch=32, max_wait_ms=0)
    began = time.monotonic()
    assert float(batcher("question 3")[0]) == 3
    assert time.monotonic() - began < 1.0
    batcher.close()
    assert encoder.batches == [["question 3"]]


def test_with_a_wait_a_later_question_joins_the_earlier_ones_pass() -> None:
    encoder = SlowEncoder(pause=0)
    batcher = MicroBatcher(encoder, max_batch=32, max_wait_ms=2000)
    first = threading.Thread(target=batcher, args=("question 1",))
    first.start()
    time.sleep(0.1)
    assert float(batcher("question 2")[0]) == 2
    first.join()
    batcher.close()
    assert encoder.batches == [["question 1", "question 2"]]


def test_a_full_batch_does_not_wait_for_the_timeout() -> None:
    encoder = SlowEncoder(pause=0)
    batcher = MicroBatcher(encoder, max_batch=2, max_wait_ms=60_000)
    began = time.monotonic()
    ask_from_threads(batcher, ["question 1", "question 2"])
    assert time.monotonic() - began < 30
    batcher.close()


def test_shutdown_finishes_queued_questions_then_refuses_new_ones() -> None:
    encoder = SlowEncoder(pause=0.05)
    batcher = MicroBatcher(encoder, max_batch=4)
    with ThreadPoolExecutor(6) as pool:
        pending = [pool.submit(batcher, f"question {i}") for i in range(6)]
        deadline = time.monotonic() + 10
        while batcher._queue.qsize() + sum(len(b) for b in encoder.batches) < 6 and time.monotonic() < deadline:
            time.sleep(0.001)  # until all six are queued or taken
        batcher.close()
        assert [float(f.result(timeout=10)[0]) for f in pending] == list(range(6))
    assert not batcher._thread.is_alive()
    with pytest.raises(EncoderError, match="shut down"):
        batcher("question 7")
    batcher.close()  # twice is harmless
