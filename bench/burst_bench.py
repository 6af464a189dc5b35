"""Burst benchmark: one project's admissions spread over many gate instances (issue 23).

Flex Consumption serves a Python app with one request per instance by default, so a classroom
starting together lands on many instances, each with its own memory, all writing the project's
state row under ETags. One run starts Azurite and the ARR emulator and measures, on ONE project
whose limits refuse nothing (no budget, maxConcurrent 1,000,000: this is throughput, not refusals):

- the baseline: 1 process x 1 client, `--requests` admissions;
- each topology N x C (`--topologies`, default 1x32,4x8,16x2,32x1): N gate worker processes
  (`bench.harness`, each its own governor context and store, like one instance each) of C client
  threads, `--requests` admissions in all (192 by default) split evenly over the processes, all
  warmed up (one admission each), then started at one instant (ready/go handshake);
- per topology: admissions/s (successful admissions over the time from that instant to the last
  process's end) and its ratio to the baseline's of the same run, p50, p99 and p99/p50 of every
  request, errors (any answer but 202, or an exception; the first few are printed), how late
  the last process began after the instant (the box's scheduling, with N processes on its cores),
  and the whole box's CPU from the instant to the last answer (workers, Azurite and the emulator:
  busy CPU ms per admission, and busy time over wall time x cores);
- between topologies every open session of the project is stopped through the gate's own stop
  route (ARR and the ledger), and the bench checks that none is left open.

Run: `python -m bench.burst_bench [--requests 192] [--topologies 1x32,4x8,16x2,32x1] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import SHOWN_ERRORS, Gate, Workers, backends, percentile, problem_lines, quiet, stop_all  # noqa: E402

PROJECT = "burst"
DEFAULT_TOPOLOGIES = "1x32,4x8,16x2,32x1"


def topologies(text: str) -> list[tuple[int, int]]:
    """`1x32,4x8` -> [(1, 32), (4, 8)]: instances x clients each."""
    result = []
    for part in text.replace(" ", "").split(","):
        instances, sep, clients = part.lower().partition("x")
        if not sep or not instances.isdigit() or not clients.isdigit() or int(instances) < 1 or int(clients) < 1:
            raise argparse.ArgumentTypeError(f"{part!r} is not INSTANCESxCLIENTS, such as 4x8")
        result.append((int(instances), int(clients)))
    return result


def topology(key: str, instances: int, clients: int, requests: int) -> dict:
    """`requests` admissions on the project from `instances` processes of `clients` threads each."""
    counts = [requests // instances + (i < requests % instances) for i in range(instances)]
    commands = [{"project": PROJECT, "key": key, "count": n, "clients": clients} for n in counts]
    load = round(os.getloadavg()[0], 1)
    launched = time.perf_counter()
    with Workers(commands) as workers:
        workers.wait_ready(120 + 10 * instances)
        ready = time.perf_counter() - launched
        busy_before, window = busy_seconds(), time.perf_counter()
        start_at = workers.go(delay=0.2 + 0.01 * instances)
        results = workers.results(600)
        busy, window = busy_seconds() - busy_before, time.perf_counter() - window
    samples = [s for r in results for s in r["samples"]]
    errors = sum(r["error_count"] for r in results)
    wall = max(r["finished"] for r in results) - start_at
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    return {
        "topology": f"{instances} x {clients}",
        "instances": instances,
        "clients": clients,
        "requests": len(samples),
        "errors": errors,
        "first_errors": [e for r in results for e in r["errors"]][:SHOWN_ERRORS],
        "wall_s": round(wall, 3),
        "per_s": round((len(samples) - errors) / wall, 1),
        "p50_ms": round(p50 * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "p99_over_p50": round(p99 / p50, 2),
        "last_start_ms": round((max(r["started"] for r in results) - start_at) * 1000, 1),
        "startup_s": round(ready, 1),
        "load": load,
        # the whole box (workers, Azurite, the emulator), from `go` to the last answer
        "cpu_ms_per_admission": round(busy * 1000 / max(len(samples), 1), 1),
        "cpu_busy": round(busy / (window * (os.cpu_count() or 1)), 2),
    }


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (Linux /proc/stat: all but idle, iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run(requests: int, shapes: list[tuple[int, int]]) -> dict:
    from governor.bootstrap import get_context
    from governor.core.model import ProjectPolicy, VmSize

    for instances, clients in shapes:
        if requests < instances * clients:
            raise SystemExit(f"--requests {requests} leaves some of {instances} x {clients} clients idle")
    with backends("burst"):
        store = get_context().store
        # no budget, no working hours, concurrency far above any burst: nothing is ever refused
        store.put_project(ProjectPolicy(name=PROJECT, rates={VmSize.STANDARD: 3_000_000}, max_concurrent=1_000_000))
        key = store.rotate_key(PROJECT)
        gate = Gate()
        results: dict = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "requests": requests,
            "load_start": round(os.getloadavg()[0], 1),
            "baseline": None,
            "topologies": [],
        }
        for index, (instances, clients) in enumerate([(1, 1), *shapes]):
            row = topology(key, instances, clients, requests)
            row["cleanup"] = stop_all(lambda sid: gate.stop(PROJECT, key, sid), store, PROJECT)
            if index == 0:
                row["topology"] += " (baseline)"
                results["baseline"] = row
            else:
                results["topologies"].append(row)
        results["load_end"] = round(os.getloadavg()[0], 1)
    base = results["baseline"]["per_s"]
    for row in [results["baseline"], *results["topologies"]]:
        row["over_one_client"] = round(row["per_s"] / base, 2) if base else None
    return results


def table(results: dict) -> str:
    base = results["baseline"]
    lines = [
        f"machine: {results['machine']}; load average {results['load_start']} at start, {results['load_end']} at "
        f"the end; {results['requests']} admissions per topology, one project",
        "",
        "| instances x clients each | admissions/s | over 1 client | p50 ms | p99 ms | p99/p50 | errors "
        "| last start ms | load | box CPU ms per admission | box CPU busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in [base, *results["topologies"]]:
        cells = [row[k] for k in ("topology", "per_s", "over_one_client", "p50_ms", "p99_ms", "p99_over_p50")]
        cells += [f"{row['errors']} / {row['requests']}", row["last_start_ms"], row["load"]]
        cells += [row["cpu_ms_per_admission"], f"{row['cpu_busy']:.0%}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", f"1 client's gate p50: {base['p50_ms']} ms (1 process x 1 client, {base['requests']} admissions)."]
    lines += problem_lines([(row["topology"], row) for row in [base, *results["topologies"]]])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=192, help="admissions per topology (default 192)")
    parser.add_argument(
        "--topologies",
        type=topologies,
        default=topologies(DEFAULT_TOPOLOGIES),
        help=f"INSTANCESxCLIENTS, comma-separated (default {DEFAULT_TOPOLOGIES}); 1x1 runs first, always",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    quiet()
    results = run(args.requests, args.topologies)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
