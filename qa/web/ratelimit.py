"""Per-client token buckets: a steady rate per minute with bursts up to the same number."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

# Past this many tracked clients, buckets that have refilled completely are forgotten.
_PRUNE_AT = 10_000


class RateLimiter:
    """Allows `per_minute` requests per client per minute; 0 or less turns the limit off."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str) -> int:
        """Take one request for `client`: 0 when allowed, else the seconds to wait before retrying."""
        if self.capacity <= 0:
            return 0
        now = self.clock()
        with self._lock:
            tokens, stamp = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - stamp) * self.refill_per_second)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                self._prune(now)
                return 0
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.refill_per_second))

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= _PRUNE_AT:
            return
        full_after = self.capacity / self.refill_per_second
        self._buckets = {key: value for key, value in self._buckets.items() if now - value[1] < full_after}
