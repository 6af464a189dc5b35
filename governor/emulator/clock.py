"""The emulator's virtual clock: real time scaled, plus explicit advances."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class VirtualClock:
    """emulated_now = base + real_elapsed * time_scale + offset. Never goes backwards except on reset."""

    def __init__(self, time_scale: float = 1.0, wall=time.time, monotonic=time.monotonic):
        if time_scale <= 0:
            raise ValueError("time_scale must be greater than 0")
        self.time_scale = time_scale
        self._monotonic = monotonic
        self._base = datetime.fromtimestamp(wall(), UTC)
        self._start = monotonic()
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        real = self._monotonic() - self._start
        return self._base + timedelta(seconds=real * self.time_scale) + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("advanceSeconds must not be negative")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def catch_up(self, at_least: datetime) -> None:
        """After a restart, continue from a saved emulated time if it is ahead of ours."""
        with self._lock:
            gap = at_least - self.now()
            if gap > timedelta(0):
                self._offset += gap

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()
