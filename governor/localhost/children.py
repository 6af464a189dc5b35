"""Child processes of `run`: started with their output in a log file, ready when a line appears,
stopped with their stop signal (then SIGKILL after a grace period)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class ChildFailed(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path
    ready: re.Match | None = None
    stop_signal: int = signal.SIGTERM

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 10.0) -> int:
        if self.running:
            self._signal(self.stop_signal)
            try:
                return self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
        return self.process.wait()

    def _signal(self, signum: int) -> None:
        # Each child leads its own process group (start_new_session), so this reaches its helpers too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    ready: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
    stop_signal: int = signal.SIGTERM,
    pass_fds: Sequence[int] = (),
) -> Child:
    """Start `argv` with stdout and stderr appended to `log_path`; return once `ready` matches a new line.
    `pass_fds` stay open in the child (and only those, besides stdio)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n--- {name} started at {datetime.now(UTC).isoformat()} ---\n".encode())
        offset = log.tell()
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # Ctrl-C reaches `run` only; it stops the children in order
            pass_fds=tuple(pass_fds),
        )
    child = Child(name, process, log_path, stop_signal=stop_signal)
    try:
        _wait_ready(child, re.compile(ready), offset, timeout)
    except BaseException:  # including Ctrl-C while starting: leave no orphan behind
        child.stop()
        raise
    return child


def _wait_ready(child: Child, pattern: re.Pattern, offset: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with child.log_path.open("rb") as log:
            log.seek(offset)
            output = log.read().decode("utf-8", errors="replace")
        child.ready = pattern.search(output)
        if child.ready:
            return
        if not child.running:
            raise ChildFailed(
                f"{child.name} exited with code {child.process.returncode}; "
                f"last lines of {child.log_path}:\n{tail(child.log_path)}"
            )
        time.sleep(0.05)
    raise ChildFailed(
        f"{child.name} was not ready within {timeout:.0f}s; last lines of {child.log_path}:\n{tail(child.log_path)}"
    )
