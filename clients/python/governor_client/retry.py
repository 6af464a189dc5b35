"""When to try a request again: bounded attempts, exponential backoff with jitter, Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# 5xx: the gate or what it depends on failed; 429: throttled or at the concurrency limit.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all, the first included
    backoff: float = 1.0  # the first wait when the answer names none, doubled per retry
    max_backoff: float = 30.0
    max_wait: float = 120.0  # a Retry-After longer than this gives up rather than block the app
    jitter: float = 0.25  # up to this fraction is added to every wait, so many clients spread out

    def delay(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `retry` (1 for the first), or None to give up."""
        if retry >= self.attempts:
            return None
        base = min(self.max_backoff, self.backoff * 2 ** (retry - 1)) if retry_after is None else retry_after
        if base > self.max_wait:
            return None
        return base + random.uniform(0, self.jitter * max(base, self.backoff))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
