"""Gate benchmark: admissions under bursts on one project, and polling, against a bare baseline.

One run starts Azurite and the ARR emulator and measures, through the function itself
(`request_session.get_user_function()(HttpRequest(...))`):

- the bare baseline: one ARR create (the client alone), one policy read, one table transaction;
- 1 client admitting sessions in one project (its p50 over the baseline's sum: target <= 1.5x);
  the gate and the three baseline calls are taken in turns of 16 calls, so the box's drift during
  the run falls on both alike (and, for comparison, each also on its own, one after the other),
  and the same in a project of its own with a named key that has limits of its own, whose
  admission also reads every open entry of the project (the bench leaves its sessions open, so
  those grow from 1 to `--requests` as it runs);
- 32 clients of ONE project (admissions/s over the 1-client admissions/s: target >= 1.0x;
  p99 <= 3x p50; 0 errors);
- 32 clients spread over 8 projects, and 2 processes x 16 clients of one project sharing the
  same Azurite (each process has its own group commit; ETags decide between them; the second
  process is the harness's gate worker; `bench.burst_bench` spreads one project's burst over
  many such processes);
- 30 clients polling one session every second for `--poll-seconds` (60): the ARR calls the
  emulator counted (target <= poll-seconds / GOVERNOR_GATE_READ_SECONDS) and the poll's p99
  (target <= 50 ms).

Run: `python -m bench.gate_bench [--requests N] [--clients 32] [--poll-seconds 60] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    Gate,
    Workers,
    backends,
    interleaved,
    measure,
    paced,
    quiet,
    summary,
    timed_calls,
    worker_main,
)

PROJECTS = 8


def two_processes(project: str, key: str, count: int, clients: int, gate: Gate) -> dict:
    """Half the requests from a second process (a harness worker), half from this one, started together."""
    with Workers([{"project": project, "key": key, "count": count // 2, "clients": clients}]) as worker:
        worker.wait_ready(120)
        started = time.perf_counter()
        worker.go()
        here, errors, _ = timed_calls(lambda i: gate.create(project, key), count - count // 2, clients)
        (there,) = worker.results(600)
        wall = time.perf_counter() - started
    combined = summary(here + there["samples"], wall, 2 * clients, len(errors) + there["error_count"])
    if errors or there["errors"]:
        combined["first_error"] = (errors or there["errors"])[0]
    return combined


def poll(gate: Gate, emulator, project: str, key: str, clients: int, seconds: float) -> dict:
    """`clients` threads each GET one session once a second for `seconds`; ARR's calls counted."""
    session_id = gate.create(project, key)
    route = "GET /accounts/{account}/sessions/{session}"
    before = emulator.stats()["requests"].get(route, 0)
    samples, errors, wall = paced([lambda: gate.get(project, key, session_id)] * clients, seconds)
    result = summary(samples, wall, clients, len(errors))
    result["arr_calls"] = emulator.stats()["requests"].get(route, 0) - before
    result["seconds"] = seconds
    return result


# ---------------------------------------------------------------- the run
def run(requests: int, clients: int, poll_seconds: float, poll_clients: int) -> dict:
    from governor.bootstrap import get_context
    from governor.core.model import CallerLimits, ProjectPolicy, VmSize, utcnow

    with backends("bench") as (azurite, emulator):
        context = get_context()
        store, arr = context.store, context.arr["default"]
        keys = {}
        for name in ["one", "limited", "duo", "poll", *(f"p{i}" for i in range(PROJECTS))]:
            store.put_project(ProjectPolicy(name=name, rates={VmSize.STANDARD: 3_000_000}, max_concurrent=1_000_000))
            keys[name] = store.rotate_key(name)
        # a named key with limits of its own: the admission also reads the project's open entries
        limited = store.add_key("limited", "limited", utcnow(), limits=CallerLimits(max_concurrent=1_000_000))
        gate = Gate()

        def bare_create(_):
            arr.create(VmSize.STANDARD, timedelta(minutes=30), session_id=str(uuid.uuid4()))

        def policy_read(_):
            store.get_project("one")

        from azure.data.tables import TableServiceClient

        table = TableServiceClient.from_connection_string(azurite.connection_string).create_table_if_not_exists(
            "benchtx" + uuid.uuid4().hex[:8]
        )

        def transaction(_):
            row = uuid.uuid4().hex
            table.submit_transaction(
                [
                    ("upsert", {"PartitionKey": "p", "RowKey": row, "n": 1}),
                    ("upsert", {"PartitionKey": "p", "RowKey": row + "x"}),
                ]
            )

        for name in keys:
            gate.create(name, keys[name])  # warm every project's key cache and partition
        for warm in (bare_create, policy_read, transaction):
            for i in range(5):
                warm(i)

        results: dict = {"requests": requests, "clients": clients}
        one = {
            "arr_create": bare_create,
            "policy_read": policy_read,
            "table_transaction": transaction,
            "one_client": lambda i: gate.create("one", keys["one"]),
        }
        # each measured on its own, one after the other (the method of the first runs)
        results["sequential"] = {name: measure(action, requests, 1) for name, action in one.items()}
        # the figure: the same four taken in turns, so the box's drift falls on gate and baseline alike
        results.update(interleaved(one, requests))
        gate.create("limited", limited)
        results["one_client_limited_key"] = measure(lambda i: gate.create("limited", limited), requests, 1)
        results["one_project"] = measure(lambda i: gate.create("one", keys["one"]), requests, clients)
        results["eight_projects"] = measure(
            lambda i: gate.create(f"p{i % PROJECTS}", keys[f"p{i % PROJECTS}"]), requests, clients
        )
        results["two_processes"] = two_processes("duo", keys["duo"], requests, clients // 2, gate)
        if poll_seconds > 0:
            results["polling"] = poll(gate, emulator, "poll", keys["poll"], poll_clients, poll_seconds)
            results["polling"]["bound_s"] = context.settings.get("GOVERNOR_GATE_READ_SECONDS")
        return ratios(results)


def ratios(results: dict) -> dict:
    parts = ("arr_create", "policy_read", "table_transaction")
    baseline = sum(results[k]["p50_ms"] for k in parts)
    one, burst = results["one_client"], results["one_project"]
    results["baseline_p50_ms"] = round(baseline, 2)
    results["one_client_over_baseline_p50"] = round(one["p50_ms"] / baseline, 2)
    sequential = results["sequential"]
    results["sequential_one_client_over_baseline_p50"] = round(
        sequential["one_client"]["p50_ms"] / sum(sequential[k]["p50_ms"] for k in parts), 2
    )
    results["limited_key_over_one_client_p50"] = round(results["one_client_limited_key"]["p50_ms"] / one["p50_ms"], 2)
    results["one_project_over_one_client_per_s"] = round(burst["per_s"] / one["per_s"], 2)
    results["one_project_p99_over_p50"] = round(burst["p99_ms"] / burst["p50_ms"], 2)
    for name in ("eight_projects", "two_processes"):
        results[f"{name}_over_one_client_per_s"] = round(results[name]["per_s"] / one["per_s"], 2)
        results[f"{name}_p99_over_p50"] = round(results[name]["p99_ms"] / results[name]["p50_ms"], 2)
    polling = results.get("polling")
    if polling:
        polling["arr_calls_allowed"] = int(polling["seconds"] // polling["bound_s"]) if polling["bound_s"] else None
    return results


def table(results: dict) -> str:
    lines = ["| what | clients | count | errors | p50 ms | p99 ms | per s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name in (
        "arr_create",
        "policy_read",
        "table_transaction",
        "one_client",
        "one_client_limited_key",
        "one_project",
        "eight_projects",
        "two_processes",
        "polling",
    ):
        m = results.get(name)
        if m:
            cells = [name, *(m[k] for k in ("clients", "count", "errors", "p50_ms", "p99_ms", "per_s"))]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        "| figure | target | this run |",
        "|---|---|---:|",
        "| 1 client: gate p50 / (create + read + transaction) p50, taken in turns | <= 1.5 | "
        f"{results['one_client_over_baseline_p50']} |",
        "| same, each measured on its own one after the other (the earlier method) | (<= 1.5) | "
        f"{results['sequential_one_client_over_baseline_p50']} |",
        "| 1 client with a limited key: p50 / the plain key's p50 | report | "
        f"{results['limited_key_over_one_client_p50']} |",
        f"| {results['clients']} clients, one project: admissions/s over 1 client's | >= 1.0 | "
        f"{results['one_project_over_one_client_per_s']} |",
        f"| {results['clients']} clients, one project: p99 / p50 | <= 3 | {results['one_project_p99_over_p50']} |",
        f"| {results['clients']} clients, one project: errors | 0 | {results['one_project']['errors']} |",
        f"| {results['clients']} clients over {PROJECTS} projects: admissions/s over 1 client's (p99/p50) | report | "
        f"{results['eight_projects_over_one_client_per_s']} ({results['eight_projects_p99_over_p50']}) |",
        f"| 2 processes x {results['clients'] // 2} clients, one project: admissions/s over 1 client's (p99/p50) "
        f"| report | {results['two_processes_over_one_client_per_s']} ({results['two_processes_p99_over_p50']}) |",
    ]
    polling = results.get("polling")
    if polling:
        lines += [
            f"| {polling['clients']} pollers x {polling['seconds']:.0f} s: ARR session GETs "
            f"| <= {polling['arr_calls_allowed']} | {polling['arr_calls']} |",
            f"| poll p99 ms | <= 50 | {polling['p99_ms']} |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=320, help="admissions per measurement (default 320)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients of the burst (default 32)")
    parser.add_argument("--poll-seconds", type=float, default=60, help="length of the polling run (0: skip)")
    parser.add_argument("--poll-clients", type=int, default=30, help="pollers of one session (default 30)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown tables")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main()  # the harness's gate worker, under the name issue 14's runs used
    quiet()
    results = run(args.requests, args.clients, args.poll_seconds, args.poll_clients)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
