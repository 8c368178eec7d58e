"""Micro-batching: questions asked at the same time from many threads are encoded in one forward pass.

One forward pass over 32 questions costs far less than 32 passes over one (docs/performance.md), so
under load the server's answering threads hand their question to one encoding thread. That thread
takes everything waiting, up to `max_batch`, and encodes it at once; while it works the next batch
gathers. A lone question goes at once (or after `max_wait_ms`, if set), so it is not slower.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from ..errors import EncoderError

Request = tuple[str, "Future[np.ndarray]"]


class MicroBatcher:
    """Encodes single texts from many threads together, in batches of at most `max_batch`."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], max_batch: int = 32, max_wait_ms: float = 0.0) -> None:
        self._encode = encode
        self.max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        # None asks the thread to stop once what was queued before it is done.
        self._queue: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="question-encoder", daemon=True)
        self._thread.start()

    def __call__(self, text: str) -> np.ndarray:
        """The vector of `text`, encoded together with whatever other threads asked meanwhile."""
        future: Future[np.ndarray] = Future()
        with self._close_lock:
            if self._closed:
                raise EncoderError("the question encoder is shut down")
            self._queue.put((text, future))
        return future.result()

    def close(self) -> None:
        """Finish what is queued, then stop the encoding thread; later calls raise EncoderError."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch, stop = self._gather()
            if batch:
                self._encode_batch(batch)
            if stop:
                return

    def _gather(self) -> tuple[list[Request], bool]:
        """Block for one request, then take what else is waiting (up to max_wait for more); True: stop after."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self._max_wait
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _encode_batch(self, batch: list[Request]) -> None:
        try:
            vectors = self._encode([text for text, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0][1].set_exception(error)
            else:
                # One bad text must not fail the others: each is encoded alone and gets its own outcome.
                for request in batch:
                    self._encode_batch([request])
            return
        for (_, future), vector in zip(batch, vectors, strict=True):
            future.set_result(vector)
