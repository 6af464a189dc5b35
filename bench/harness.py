"""What the gate, keys, connect and burst benchmarks share: timing, the gate called in process,
Azurite and the ARR emulator started for one run, and gate worker processes.

- `percentile`, `summary`, `timed_calls`, `interleaved`, `measure`: samples and their figures;
- `Gate`: the HTTP functions called through `get_user_function()(HttpRequest(...))`;
- `backends(prefix)`: Azurite and the emulator for one run, the governor's settings pointed at
  them (in `os.environ`, which worker processes inherit) and a fresh governor context;
- `Workers`: gate processes (`python -m bench.harness --worker`), each with its own governor
  context and store, like one Flex Consumption instance each, started together by a ready/go
  handshake: each gets `{"project", "key", "count", "clients"}` on stdin, warms up with one
  admission (imports, connections, key cache, the project's totals), answers `ready`, waits for
  `go [epoch seconds]`, starts its `clients` threads at that instant and prints its samples as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BODY = json.dumps({"size": "Standard", "maxLeaseTime": 30}).encode()
FIRST_ERRORS = 5  # error messages a worker sends back (all are counted)


def quiet() -> None:
    """The governor's warnings (retries, lost ETag races) would drown the tables."""
    import logging

    logging.disable(logging.WARNING)


# ---------------------------------------------------------------- samples
def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: list[float], wall: float, clients: int, errors: int = 0) -> dict:
    return {
        "clients": clients,
        "count": len(samples),
        "errors": errors,
        "p50_ms": round(percentile(samples, 50) * 1000, 2),
        "p99_ms": round(percentile(samples, 99) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
        "per_s": round(len(samples) / wall, 1),
    }


def timed_calls(action, count: int, clients: int) -> tuple[list[float], list[str], float]:
    """`count` calls of `action(i)` over `clients` threads: (seconds each, errors, wall seconds).
    An exception is an error, still timed."""
    errors: list[str] = []

    def timed(index):
        start = time.perf_counter()
        try:
            action(index)
        except Exception as exc:
            errors.append(repr(exc)[:200])
        return time.perf_counter() - start

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        samples = list(pool.map(timed, range(count)))
    return samples, errors, time.perf_counter() - started


def paced(calls: list, seconds: float) -> tuple[list[float], list[str], float]:
    """One thread per call, each calling it once a second for `seconds`, their starts spread over
    the first second as real apps' would be; (samples, errors, wall seconds)."""
    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.perf_counter()

    def client(index: int, call) -> None:
        next_at = start + index / len(calls)
        while next_at < start + seconds:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            began = time.perf_counter()
            try:
                call()
            except Exception as exc:
                with lock:
                    errors.append(repr(exc)[:200])
            with lock:
                samples.append(time.perf_counter() - began)
            next_at += 1.0

    threads = [threading.Thread(target=client, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, errors, time.perf_counter() - start


def interleaved(actions: dict, count: int, block: int = 16) -> dict:
    """`count` calls of each action at 1 client, taken in turns of `block` calls (A B C D A B C
    D ...), so that whatever the box does meanwhile falls on all of them alike."""
    samples: dict = {name: [] for name in actions}
    walls = dict.fromkeys(actions, 0.0)
    done = 0
    while done < count:
        size = min(block, count - done)
        for name, action in actions.items():
            taken, errors, wall = timed_calls(lambda i, a=action, d=done: a(d + i), size, 1)
            if errors:
                raise RuntimeError(f"{name}: {errors[0]}")
            samples[name] += taken
            walls[name] += wall
        done += size
    return {name: summary(samples[name], walls[name], 1) for name in actions}


def measure(action, count: int, clients: int) -> dict:
    samples, errors, wall = timed_calls(action, count, clients)
    result = summary(samples, wall, clients, len(errors))
    if errors:
        result["first_error"] = errors[0]
    return result


# ---------------------------------------------------------------- the gate, in process
class Gate:
    def __init__(self):
        import function_app
        from governor.functions.openapi_doc import registered_functions

        self.functions = {f.get_function_name(): f.get_user_function() for f in registered_functions(function_app.app)}
        self.request = self.functions["request_session"]
        self.read = self.functions["get_session"]

    def call(self, name: str, method: str, project: str, key: str, session_id=None, body=b"", suffix=""):
        """Function `name` on `/api/projects/{project}/sessions[/{session_id}]{suffix}`."""
        import azure.functions as func

        url, params = f"/api/projects/{project}/sessions", {"project": project}
        if session_id is not None:
            url, params = f"{url}/{session_id}{suffix}", {**params, "sessionId": session_id}
        headers = {"X-Api-Key": key, **({"Content-Type": "application/json"} if body else {})}
        request = func.HttpRequest(method=method, url=url, headers=headers, route_params=params, body=body)
        return self.functions[name](request)

    @staticmethod
    def _expect(response, status: int) -> dict:
        if response.status_code != status:
            raise RuntimeError(f"gate answered {response.status_code}: {response.get_body()[:200]!r}")
        return json.loads(response.get_body())

    def create(self, project: str, key: str) -> str:
        return self._expect(self.call("request_session", "POST", project, key, body=BODY), 202)["sessionId"]

    def get(self, project: str, key: str, session_id: str) -> dict:
        return self._expect(self.call("get_session", "GET", project, key, session_id), 200)

    def stop(self, project: str, key: str, session_id: str) -> dict:
        return self._expect(self.call("stop_session", "DELETE", project, key, session_id), 200)


# ---------------------------------------------------------------- Azurite and the emulator
def start_backends(*, tls_dir: str | None = None):
    """Azurite and the ARR emulator (5 s Starting, real time; with `tls_dir`, its Entra stand-in
    over https too): (azurite, emulator handle). Stop them with `stop_backends`."""
    from tests.fixtures.azurite import start_azurite
    from tests.fixtures.emulator import EmulatorHandle, start_emulator, start_emulator_handle

    azurite = start_azurite()
    try:
        args = ("--startup-seconds", "5", "--time-scale", "1")
        if tls_dir:
            return azurite, start_emulator_handle(*args, tls_dir=tls_dir)
        process, url = start_emulator(*args)
        return azurite, EmulatorHandle(url, process=process)
    except BaseException:
        stop_backends(azurite, None)
        raise


def stop_backends(azurite, emulator) -> None:
    from tests.fixtures.azurite import stop_azurite
    from tests.fixtures.emulator import stop_emulator

    try:
        if emulator is not None and emulator.process is not None:
            stop_emulator(emulator.process)
    finally:
        stop_azurite(azurite.process)


@contextlib.contextmanager
def backends(prefix: str, *, tls: bool = False, env: dict[str, str] | None = None) -> Iterator[tuple]:
    """Azurite and the emulator for one run, the governor pointed at them (tables named
    `prefix` + a random suffix; with `tls`, the connect identity of `make run`), and a fresh
    governor context. Yields (azurite, emulator handle)."""
    import tempfile

    from governor.bootstrap import reset_context

    azurite, emulator = start_backends(tls_dir=tempfile.mkdtemp(prefix="bench-tls-") if tls else None)
    try:
        os.environ.update(
            {
                **emulator.env(),
                "GOVERNOR_TABLES_CONNECTION": azurite.connection_string,
                "GOVERNOR_TABLE_PREFIX": prefix + uuid.uuid4().hex[:8],
                **(emulator.connect_env() if tls else {}),
                **(env or {}),
            }
        )
        reset_context()
        yield azurite, emulator
    finally:
        stop_backends(azurite, emulator)


# ---------------------------------------------------------------- worker processes

SHOWN_ERRORS = 5  # errors a bench prints under its table
STOPPERS = 4  # threads stopping the sessions a measurement left open


def stop_all(stop, store, project: str) -> dict:
    """`stop(session_id)` for every open session of `project` (through the gate or the host, so
    ARR and the ledger both end them), then how many are left open."""
    from concurrent.futures import ThreadPoolExecutor

    entries = store.list_entries(project)
    errors: list[str] = []

    def one(entry) -> None:
        try:
            stop(entry.session_id)
        except Exception as exc:
            errors.append(repr(exc)[:200])

    with ThreadPoolExecutor(max_workers=STOPPERS) as pool:
        list(pool.map(one, entries))
    return {
        "stopped": len(entries),
        "stop_errors": len(errors),
        "first_stop_errors": errors[:SHOWN_ERRORS],
        "left_open": len(store.list_entries(project)),
    }


def problem_lines(rows: list[tuple[str, dict]]) -> list[str]:
    """Under a table: the first errors of the (name, row) measurements, and any cleanup that failed."""
    lines: list[str] = []
    shown = [(name, error) for name, row in rows for error in row["first_errors"]]
    if shown:
        lines += ["", "First errors:"]
        lines += [f"- {name}: {error}" for name, error in shown[:SHOWN_ERRORS]]
    for name, row in rows:
        cleanup = row.get("cleanup")
        if cleanup and (cleanup["stop_errors"] or cleanup["left_open"]):
            lines.append(
                f"- after {name}: {cleanup['stop_errors']} of {cleanup['stopped']} stops failed, "
                f"{cleanup['left_open']} sessions left open; first: {cleanup['first_stop_errors'][:1]}"
            )
    return lines


def worker_main() -> int:
    """One gate process: see the module's docstring for the protocol."""
    quiet()
    gate = Gate()
    command = json.loads(sys.stdin.readline())
    project, key = command["project"], command["key"]
    gate.create(project, key)  # warm: imports, connections, key cache, the project's totals
    print("ready", flush=True)
    go = sys.stdin.readline().split()
    if len(go) > 1:
        time.sleep(max(0.0, float(go[1]) - time.time()))
    started = time.time()
    samples, errors, _ = timed_calls(lambda i: gate.create(project, key), command["count"], command["clients"])
    finished = time.time()
    with contextlib.suppress(Exception):  # an instance shutting down writes what it deferred
        from governor.bootstrap import get_context

        get_context().store.flush()
    result = {"samples": samples, "errors": errors[:FIRST_ERRORS], "error_count": len(errors)}
    print(json.dumps({**result, "started": started, "finished": finished}), flush=True)
    return 0


class Workers:
    """Gate worker processes, one per command, against the backends in `os.environ`."""

    def __init__(self, commands: list[dict], *, module: str = "bench.harness"):
        self.processes: list[subprocess.Popen] = []
        try:
            for command in commands:
                process = subprocess.Popen(
                    [sys.executable, "-m", module, "--worker"],
                    cwd=ROOT,
                    env=os.environ.copy(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                self.processes.append(process)
                process.stdin.write(json.dumps(command) + "\n")
                process.stdin.flush()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _lines(self, timeout: float) -> list[str]:
        """One line from each worker, read side by side; "" from one that exited."""
        with ThreadPoolExecutor(max_workers=len(self.processes)) as pool:
            futures = [pool.submit(p.stdout.readline) for p in self.processes]
            try:
                return [f.result(timeout=max(0.0, timeout)) for f in futures]
            except FutureTimeout:
                self.close(kill=True)  # unblocks the readers
                raise RuntimeError(f"a gate worker did not answer within {timeout:.0f} s") from None

    def wait_ready(self, timeout: float) -> None:
        for index, line in enumerate(self._lines(timeout)):
            if line.strip() != "ready":
                code = self.processes[index].poll()
                raise RuntimeError(f"gate worker {index} did not start (exit code {code}): {line.strip()[:200]!r}")

    def go(self, delay: float = 0.0) -> float:
        """Tell every worker to start at one instant, `delay` seconds from now; returns that instant
        (epoch seconds). With `delay` 0 each starts as it reads its `go`."""
        start_at = time.time() + delay
        line = f"go {start_at}\n" if delay > 0 else "go\n"
        for process in self.processes:
            process.stdin.write(line)
            process.stdin.flush()
        return start_at

    def results(self, timeout: float) -> list[dict]:
        lines = self._lines(timeout)
        for index, line in enumerate(lines):
            if not line.strip():
                raise RuntimeError(f"gate worker {index} exited without results ({self.processes[index].poll()})")
        return [json.loads(line) for line in lines]

    def close(self, kill: bool = False) -> None:
        for process in self.processes:
            if kill and process.poll() is None:
                process.kill()
            with contextlib.suppress(OSError):
                process.stdin.close()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with contextlib.suppress(OSError):
                process.stdout.close()


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    raise SystemExit(worker_main())
