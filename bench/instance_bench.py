"""Instance benchmark: how many requests at once one gate instance should serve (issue 23).

Flex Consumption sends an instance at most `perInstanceConcurrency` HTTP requests at once (1 for
Python unless set), and the Python worker runs sync functions on PYTHON_THREADPOOL_THREAD_COUNT
threads. One run starts Azurite and the ARR emulator (the harness's), creates ONE project whose
limits refuse nothing (no budget, maxConcurrent 1,000,000: throughput, not refusals), and for each
C of `--concurrency` (default 1,2,4,8,16,32):

- starts one local host process, `python -m governor serve` as `make run` starts it (the timers
  off), with PYTHON_THREADPOOL_THREAD_COUNT = C (`--threads match`, the default: an instance set
  to C requests at once and C threads), a fixed N (`--threads N`) or unset (`--threads none`: the
  local host's own default, a thread per connection); a fresh process per C, so each C has its
  own start-up and its own peak memory;
- warms it up over C connections (one admission per client: imports, connections, key cache,
  the project's totals; these sessions are the ones the mix polls);
- `admit`: `--requests` admissions (POST .../sessions, 202 expected) from C client threads, each
  with its own keep-alive connection;
- `mix`: `--requests` requests from C clients, one admission in 4 and three polls (GET of a
  warm-up session, 200 expected), as apps waiting for Ready poll;
- stops every open session of the project through the host (DELETE), checks none is left open,
  and stops the host.

Per row: requests/s (successful requests over the wall time), its ratio to C=1 of the same run
and workload, p50, p99 and p99/p50 of every request, errors (any other status or an exception; the
first few are printed), the host process's peak RSS (VmHWM: start-up included), the host's CPU
time per request (user + system, all its threads) and the 1-minute load average when the row
started. The clients, Azurite and the emulator share the machine with the host.

Run: `python -m bench.instance_bench [--requests 320] [--concurrency 1,2,4,8,16,32]
[--threads match|none|N] [--workloads admit,mix] [--json]`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    BODY,
    SHOWN_ERRORS,
    backends,
    percentile,
    problem_lines,
    quiet,
    stop_all,
    timed_calls,
)

PROJECT = "instance"
DEFAULT_CONCURRENCY = "1,2,4,8,16,32"
WORKLOADS = ("admit", "mix")
MIX_ADMIT_EVERY = 4  # the mix: one admission in 4 requests, the others poll a session
THREADS_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
GROWTH = 1.10  # "still growing": the next C serves at least 10 % more requests/s
TIMERS = ("sweep", "retention")  # off in the bench: a sweep would compete with the requests


def concurrency_list(text: str) -> list[int]:
    values = []
    for part in text.replace(" ", "").split(","):
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(f"{part!r} is not a whole number of at least 1")
        values.append(int(part))
    return values


def threads_mode(text: str) -> str | int:
    if text in ("match", "none"):
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not match, none or a whole number of at least 1")


def workload_list(text: str) -> list[str]:
    names = [n for n in text.replace(" ", "").split(",") if n]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"workloads are {', '.join(WORKLOADS)}, not {text!r}")
    return names


# ---------------------------------------------------------------- the host process
class Process:
    """Figures of one process from /proc (Linux)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _status(self, field: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB -> MB
        return float("nan")

    def peak_rss_mb(self) -> float:
        return self._status("VmHWM")

    def rss_mb(self) -> float:
        return self._status("VmRSS")

    def cpu_seconds(self) -> float:
        text = Path(f"/proc/{self.pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "; utime, stime are fields 14, 15
        return (int(fields[11]) + int(fields[12])) / self.ticks


def host_environment(threads: int | None) -> dict[str, str]:
    """The bench's environment (pointed at Azurite and the emulator by `backends`) with what
    `make run` adds for its host (governor.localhost.stack): development keys; the timers off;
    the thread count."""
    env = {k: v for k, v in os.environ.items() if k != THREADS_SETTING}
    env.update(
        {
            "GOVERNOR_DEV_KEYS": "true",
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "PYTHONUNBUFFERED": "1",
            **{f"AzureWebJobs.{name}.Disabled": "true" for name in TIMERS},
        }
    )
    if threads:
        env[THREADS_SETTING] = str(threads)
    return env


@contextlib.contextmanager
def local_host(threads: int | None, logs: Path):
    """One `python -m governor serve` on a free port; yields (its URL, its Process)."""
    from governor.localhost.children import start

    argv = [sys.executable, "-m", "governor", "serve", "--host", "127.0.0.1", "--port", "0"]
    child = start("host", argv, logs / "host.log", r"listening on (http\S+)", env=host_environment(threads), cwd=ROOT)
    try:
        yield child.ready.group(1), Process(child.process.pid)
    finally:
        child.stop()


# ---------------------------------------------------------------- the clients
class Client:
    """HTTP/1.1 to the host, one keep-alive connection per thread."""

    def __init__(self, url: str, key: str):
        from governor.localhost import DEV_FUNCTION_KEY

        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.headers = {"x-functions-key": DEV_FUNCTION_KEY, "X-Api-Key": key}
        self.local = threading.local()
        self.base = f"/api/projects/{PROJECT}/sessions"

    def request(self, method: str, path: str, expect: int, body: bytes | None = None) -> dict:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(*self.address, timeout=120)
        headers = {**self.headers, **({"Content-Type": "application/json"} if body else {})}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            self.local.connection = None
            raise
        if response.will_close:
            connection.close()
            self.local.connection = None
        if response.status != expect:
            raise RuntimeError(f"{method} answered {response.status}: {data[:200]!r}")
        return json.loads(data) if data else {}

    def admit(self) -> str:
        return self.request("POST", self.base, 202, BODY)["sessionId"]

    def poll(self, session_id: str) -> dict:
        return self.request("GET", f"{self.base}/{session_id}", 200)

    def stop(self, session_id: str) -> dict:
        return self.request("DELETE", f"{self.base}/{session_id}", 200)


# ---------------------------------------------------------------- the run
def row(workload: str, concurrency: int, threads: int | None, action, requests: int, process: Process) -> dict:
    """`requests` calls of `action` from `concurrency` clients, with the host's figures around them."""
    load = round(os.getloadavg()[0], 1)
    cpu_before = process.cpu_seconds()
    samples, errors, wall = timed_calls(action, requests, concurrency)
    cpu = process.cpu_seconds() - cpu_before
    p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
    return {
        "workload": workload,
        "concurrency": concurrency,
        "threads": threads,
        "requests": requests,
        "errors": len(errors),
        "first_errors": errors[:SHOWN_ERRORS],
        "per_s": round((requests - len(errors)) / wall, 1),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "p99_over_p50": round(p99 / p50, 2) if p50 else None,
        "peak_rss_mb": round(process.peak_rss_mb(), 1),
        "host_cpu_ms_per_request": round(cpu * 1000 / requests, 2),
        "load": load,
    }


def one_instance(key: str, store, concurrency: int, threads: int | None, requests: int, workloads, logs) -> list:
    rows = []
    started = time.perf_counter()
    with local_host(threads, logs) as (url, process):
        startup = time.perf_counter() - started
        client = Client(url, key)
        _, errors, _ = timed_calls(lambda i: client.admit(), concurrency, concurrency)
        if errors:
            raise RuntimeError(f"the host at C={concurrency} failed its warm-up: {errors[0]}")
        polled = [entry.session_id for entry in store.list_entries(PROJECT)]  # the warm-up's sessions
        for session_id in polled:
            client.poll(session_id)
        rss_warm = round(process.rss_mb(), 1)
        actions = {
            "admit": lambda i: client.admit(),
            "mix": lambda i: client.admit() if i % MIX_ADMIT_EVERY == 0 else client.poll(polled[i % len(polled)]),
        }
        for workload in workloads:
            result = row(workload, concurrency, threads, actions[workload], requests, process)
            result.update({"startup_s": round(startup, 1), "rss_after_warmup_mb": rss_warm})
            rows.append(result)
        rows[-1]["cleanup"] = stop_all(client.stop, store, PROJECT)  # one per host, after its last workload
    return rows


def run(requests: int, concurrencies: list[int], threads: str | int, workloads: list[str]) -> dict:
    from governor.bootstrap import get_context
    from governor.core.model import ProjectPolicy, VmSize

    if requests < max(concurrencies):
        raise SystemExit(f"--requests {requests} leaves some of {max(concurrencies)} clients idle")
    logs = Path(tempfile.mkdtemp(prefix="instance-bench-"))
    with backends("instance"):
        store = get_context().store
        # no budget, no working hours, concurrency far above any run: nothing is ever refused
        store.put_project(ProjectPolicy(name=PROJECT, rates={VmSize.STANDARD: 3_000_000}, max_concurrent=1_000_000))
        key = store.rotate_key(PROJECT)
        results: dict = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "requests": requests,
            "threads": threads,
            "workloads": workloads,
            "load_start": round(os.getloadavg()[0], 1),
            "rows": [],
            "host_log": str(logs / "host.log"),
        }
        for concurrency in concurrencies:
            count = concurrency if threads == "match" else (None if threads == "none" else threads)
            results["rows"] += one_instance(key, store, concurrency, count, requests, workloads, logs)
        results["load_end"] = round(os.getloadavg()[0], 1)
    return figures(results)


def figures(results: dict) -> dict:
    """Each row's ratio to the first C's requests/s of its workload, and where growth stops."""
    results["knee"] = {}
    for workload in results["workloads"]:
        rows = [r for r in results["rows"] if r["workload"] == workload]
        base = rows[0]["per_s"] if rows else 0
        for r in rows:
            r["over_first"] = round(r["per_s"] / base, 2) if base else None
        # the smallest C after which the next C serves less than GROWTH times as many requests/s
        pairs = itertools.pairwise(rows)
        knee = next((a["concurrency"] for a, b in pairs if b["per_s"] < GROWTH * a["per_s"]), None)
        results["knee"][workload] = knee  # None: still growing at the last C
    return results


def table(results: dict) -> str:
    first = results["rows"][0]["concurrency"] if results["rows"] else 1
    lines = [
        f"machine: {results['machine']}; load average {results['load_start']} at start, {results['load_end']} at "
        f"the end; {results['requests']} requests per row, one project; threads: {results['threads']}",
        "",
        f"| workload | C | threads | requests/s | over C={first} | p50 ms | p99 ms | p99/p50 | errors "
        "| peak RSS MB | host CPU ms/request | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        cells = [r["workload"], r["concurrency"], r["threads"] or "-", r["per_s"], r["over_first"], r["p50_ms"]]
        cells += [r["p99_ms"], r["p99_over_p50"], f"{r['errors']} / {r['requests']}", r["peak_rss_mb"]]
        cells += [r["host_cpu_ms_per_request"], r["load"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines.append("")
    growth = round((GROWTH - 1) * 100)
    for workload, knee in results["knee"].items():
        if knee is None:
            lines.append(f"{workload}: requests/s still grows by {growth} % or more at each step.")
        else:
            lines.append(f"{workload}: requests/s grows by less than {growth} % after C={knee}.")
    starts = sorted({(r["concurrency"], r["startup_s"], r["rss_after_warmup_mb"]) for r in results["rows"]})
    lines.append(
        "host start-up s / RSS after warm-up MB, by C: "
        + ", ".join(f"C={c}: {s} s / {m} MB" for c, s, m in starts)
        + f" (log: {results['host_log']})"
    )
    lines += problem_lines([(f"{r['workload']} C={r['concurrency']}", r) for r in results["rows"]])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instance_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=320, help="requests per C and workload (default 320)")
    parser.add_argument(
        "--concurrency",
        type=concurrency_list,
        default=concurrency_list(DEFAULT_CONCURRENCY),
        help=f"concurrent clients, comma-separated (default {DEFAULT_CONCURRENCY}); ratios are to the first",
    )
    parser.add_argument(
        "--threads",
        type=threads_mode,
        default="match",
        help=f"{THREADS_SETTING} of the host: match (= C, the default), none (unset: a thread per connection) or N",
    )
    parser.add_argument(
        "--workloads", type=workload_list, default=list(WORKLOADS), help="admit, mix or both (default admit,mix)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    quiet()
    results = run(args.requests, args.concurrency, args.threads, args.workloads)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
