"""`--state FILE`: sessions and the clock survive restarts. Writes are atomic (temp file + rename)
and coalesced by a background writer, so a burst of creates costs one write."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from governor.emulator.app import Emulator

FORMAT_VERSION = 1
COALESCE_SECONDS = 0.1


class StateError(ValueError):
    pass


class StateFile:
    def __init__(self, path: str | os.PathLike, emulator: Emulator):
        self.path = Path(path)
        self.emulator = emulator
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def load(self) -> int:
        """Load the file if it exists; returns the number of sessions loaded."""
        if not self.path.exists():
            return 0
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != FORMAT_VERSION:
                raise StateError(f"unsupported state file version {data.get('version')!r}")
            self.emulator.clock.catch_up(datetime.fromisoformat(data["now"]))
            self.emulator.store.load(data["sessions"])
            if "entraSigningKey" in data:  # so Entra tokens clients cached stay valid across a restart
                self.emulator.entra.key = bytes.fromhex(data["entraSigningKey"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from None
        return len(data["sessions"])

    def save(self) -> None:
        with self._write_lock:
            data = {
                "version": FORMAT_VERSION,
                "now": self.emulator.clock.now().isoformat(),
                "sessions": self.emulator.store.dump(),
                "entraSigningKey": self.emulator.entra.key.hex(),
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(data, out, separators=(",", ":"))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def mark_dirty(self) -> None:
        self._dirty.set()

    def start(self) -> None:
        self.emulator.store.on_change = self.mark_dirty
        self._thread = threading.Thread(target=self._run, name="emulator-state", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last_write = 0.0
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                break
            self._stopping.wait(max(COALESCE_SECONDS, 2 * last_write))  # big states write less often
            self._dirty.clear()
            started = time.monotonic()
            try:
                self.save()
            except OSError as exc:  # keep serving; the next change retries the write
                print(f"emulator: cannot write state file {self.path}: {exc}", file=sys.stderr)
            last_write = time.monotonic() - started

    def close(self) -> None:
        self._stopping.set()
        self._dirty.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.save()
