"""Optimistic concurrency: retry a read-decide-write round on 412/409, bounded, with jitter.

Every money operation reads the rows it needs (with their ETags), decides, and submits one
entity-group transaction whose updates carry `MatchConditions.IfNotModified`. When another
writer got there first the service answers 412 (or 409 for a racing insert); the whole round
runs again on fresh data. Full jitter spreads racing writers apart.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from azure.core.exceptions import HttpResponseError

from governor.store.errors import Contention

T = TypeVar("T")
RETRYABLE_STATUS = (409, 412)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 60
    base_delay: float = 0.005
    max_delay: float = 0.2

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def is_conflict(exc: BaseException) -> bool:
    """412 (ETag moved) or 409 (row inserted meanwhile), from a single call or a transaction."""
    return isinstance(exc, HttpResponseError) and getattr(exc, "status_code", None) in RETRYABLE_STATUS


def with_retry(
    round_: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    sleep=time.sleep,
    retryable: Callable[[BaseException], bool] = is_conflict,
) -> T:
    for attempt in range(policy.attempts):
        try:
            return round_()
        except Exception as exc:
            if not retryable(exc):
                raise
        sleep(policy.delay(attempt))
    raise Contention(f"{what}: still conflicting after {policy.attempts} attempts")
