"""One stack per data directory: a second `run` on it would start a second Azurite and emulator on the
same files, and whichever stopped last would overwrite the other's data (a project created through the
first was gone). `run` holds a lock on the directory while it or any process it started lives."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from governor.localhost.children import Child, start
from tests.fixtures.stack import FUNCTION_KEY, start_stack

ROOT = Path(__file__).resolve().parents[2]
STARTED = "started at"  # the line children.start() writes into a child's log before it runs


def _second_run(data: Path, out: Path) -> Child:
    """Another `run` on `data` (free ports, so only the data directory is shared), until it exits or serves."""
    argv = [sys.executable, "-m", "governor", "run", "--port", "0", "--azurite-port", "0", "--data-dir", str(data)]
    return start("second", argv, out, r"(?m)^(error: |listening on )", cwd=ROOT, timeout=60)


def _finish(child: Child) -> int | None:
    """Its exit code, or None if it is serving (the defect): then stopped as Ctrl-C would, leaving nothing behind."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.process.wait(15)
    code = child.process.poll()
    if code is None:
        child.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(30)
        child.stop()
    return code


def _starts(data: Path) -> dict[str, int]:
    logs = data / "logs"
    return {p.name: p.read_text(errors="replace").count(STARTED) for p in logs.glob("*.log")}


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # a zombie has closed its files


def test_a_second_run_on_the_same_data_dir_is_refused_before_it_starts_anything(tmp_path):
    data = tmp_path / "data"
    first = start_stack(data)
    try:
        before = _starts(data)
        second = _second_run(data, tmp_path / "second.txt")
        code = _finish(second)
        said = (tmp_path / "second.txt").read_text()
        assert code == 1, said
        assert f"error: {data} is in use by another `run`" in said
        assert "--data-dir" in said
        assert "starting" not in said  # refused at once
        assert _starts(data) == before  # no second Azurite, emulator or host on these files
        headers = {**FUNCTION_KEY, "X-Api-Key": first.keys["demo"]}
        usage = requests.get(f"{first.base_url}/projects/demo/usage", headers=headers, timeout=30)
        assert usage.status_code == 200, usage.text  # the first stack serves on, unharmed
    finally:
        assert first.stop() == 0
    # released when the first stopped: the data directory is free again
    again = start_stack(data)
    assert again.stop() == 0


def test_a_killed_run_keeps_the_lock_while_its_children_run_and_frees_it_when_they_are_gone(tmp_path):
    data = tmp_path / "data"
    first = start_stack(data)
    run_pid = first.child.process.pid
    children = _children_of(run_pid)
    try:
        assert len(children) == 3  # Azurite, the emulator, the host
        os.kill(run_pid, signal.SIGKILL)  # `kill -9` on run: its children go on writing the data directory
        first.child.process.wait(10)
        second = _second_run(data, tmp_path / "second.txt")
        assert _finish(second) == 1
        assert f"error: {data} is in use by another `run`" in (tmp_path / "second.txt").read_text()
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # each child leads its own group
    deadline = time.monotonic() + 15
    while not all(_gone(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    # every holder is gone, so the lock is too (flock dies with the processes), crash or not
    again = start_stack(data)
    assert again.stop() == 0
