"""A self-signed certificate for 127.0.0.1, made at test time (by the emulator's own helper)."""

from __future__ import annotations

import datetime
from pathlib import Path

from governor.emulator.tls import make_self_signed as _make


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    return _make(directory, datetime.timedelta(days=1))
