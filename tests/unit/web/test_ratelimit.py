"""The per-client token bucket on a controlled clock."""

from __future__ import annotations

from qa.web.ratelimit import RateLimiter


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_limit_passes_then_waits_are_named_in_seconds() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 0]
    # One token refills every 20 s at 3 per minute.
    assert limiter.acquire("a") == 20
    clock.now += 19.5
    assert limiter.acquire("a") == 1
    clock.now += 0.5
    assert limiter.acquire("a") == 0


def test_clients_have_their_own_buckets() -> None:
    limiter = RateLimiter(1, Clock())
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0


def test_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(0, Clock())
    assert all(limiter.acquire("a") == 0 for _ in range(1000))


def test_refilled_buckets_are_forgotten_past_many_clients() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock)
    for n in range(10_001):
        limiter.acquire(f"client-{n}")
    clock.now += 61  # every bucket is full again
    limiter.acquire("one more")
    assert len(limiter._buckets) <= 2
