"""Per-key rate limits on writes (``limits``, moving window, in memory per process)."""

from __future__ import annotations

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    """``hit(key)`` is True while ``key`` stays within ``rate`` (e.g. ``"60/minute"``)."""

    def __init__(self, rate: str) -> None:
        self.rate = rate
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key: str) -> bool:
        return bool(self.limiter.hit(self.item, key))
