"""Gate benchmark: POST /api/projects/{p}/sessions at 1 and 8 concurrent clients.

Beside it, measured in the same run against the same Azurite and emulator: a bare ARR create
(the client alone), one policy read, and one table transaction. The gate's cost is reported as
a ratio to that baseline (create + read + transaction), so the figure means something on any
machine. `gate_limited_key` is the same request with a named key that has limits of its own, whose
admission also reads every open entry of the project (the bench leaves its sessions open, so
those grow from about 200 to 400 as it runs). Run: `python -m bench.gate_bench [--requests N] [--clients 1 8]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure(action, count: int, clients: int) -> dict:
    def timed(_):
        start = time.perf_counter()
        action()
        return time.perf_counter() - start

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        samples = list(pool.map(timed, range(count)))
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "count": count,
        "p50_ms": round(percentile(samples, 50) * 1000, 2),
        "p99_ms": round(percentile(samples, 99) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
        "per_s": round(count / wall, 1),
    }


def run(requests: int, client_counts: list[int]) -> dict:
    import azure.functions as func

    import function_app
    from governor.functions.openapi import registered_functions
    from governor.model import CallerLimits, ProjectPolicy, VmSize, utcnow
    from governor.service.context import get_context, reset_context
    from tests.fixtures.azurite import start_azurite, stop_azurite
    from tests.fixtures.emulator import EmulatorHandle, start_emulator, stop_emulator

    azurite = start_azurite()
    process, url = start_emulator("--startup-seconds", "5", "--time-scale", "1")
    emulator = EmulatorHandle(url, process=process)
    try:
        os.environ.update(
            {
                "ARR_ACCOUNT_ID": emulator.account_id,
                "ARR_ACCOUNT_KEY": emulator.account_key,
                "ARR_SERVICE_ENDPOINT": url,
                "ARR_STS_ENDPOINT": url,
                "GOVERNOR_TABLES_CONNECTION": azurite.connection_string,
                "GOVERNOR_TABLE_PREFIX": "bench" + uuid.uuid4().hex[:8],
            }
        )
        reset_context()
        context = get_context()
        store, arr = context.store, context.arr["default"]
        store.put_project(ProjectPolicy(name="bench", rates={VmSize.STANDARD: 3_000_000}, max_concurrent=1_000_000))
        key = store.rotate_key("bench")
        # a named key with limits of its own: the admission also reads the project's open entries
        limited = store.add_key("bench", "limited", utcnow(), limits=CallerLimits(max_concurrent=1_000_000))
        request_session = {f.get_function_name(): f for f in registered_functions(function_app.app)}[
            "request_session"
        ].get_user_function()
        body = json.dumps({"size": "Standard", "maxLeaseTime": 30}).encode()

        def gate_create(caller_key=key):
            response = request_session(
                func.HttpRequest(
                    method="POST",
                    url="/api/projects/bench/sessions",
                    headers={"X-Api-Key": caller_key, "Content-Type": "application/json"},
                    route_params={"project": "bench"},
                    body=body,
                )
            )
            if response.status_code != 202:
                raise RuntimeError(f"gate answered {response.status_code}: {response.get_body()[:200]!r}")

        def bare_create():
            arr.create(VmSize.STANDARD, timedelta(minutes=30), session_id=str(uuid.uuid4()))

        def policy_read():
            store.get_project("bench")

        from azure.data.tables import TableServiceClient

        table = TableServiceClient.from_connection_string(azurite.connection_string).create_table_if_not_exists(
            "benchtx" + uuid.uuid4().hex[:8]
        )

        def transaction():
            row = uuid.uuid4().hex
            table.submit_transaction(
                [
                    ("upsert", {"PartitionKey": "p", "RowKey": row, "n": 1}),
                    ("upsert", {"PartitionKey": "p", "RowKey": row + "x"}),
                ]
            )

        for warm in (gate_create, bare_create, policy_read, transaction):
            for _ in range(5):
                warm()
        results: dict = {"requests": requests, "runs": []}
        for clients in client_counts:
            row = {
                "clients": clients,
                "gate": measure(gate_create, requests, clients),
                "gate_limited_key": measure(lambda: gate_create(limited), requests, clients),
                "arr_create": measure(bare_create, requests, clients),
                "policy_read": measure(policy_read, requests, clients),
                "table_transaction": measure(transaction, requests, clients),
            }
            baseline = sum(row[k]["p50_ms"] for k in ("arr_create", "policy_read", "table_transaction"))
            row["baseline_p50_ms"] = round(baseline, 2)
            row["gate_over_baseline_p50"] = round(row["gate"]["p50_ms"] / baseline, 2)
            row["limited_key_over_gate_p50"] = round(row["gate_limited_key"]["p50_ms"] / row["gate"]["p50_ms"], 2)
            results["runs"].append(row)
        return results
    finally:
        stop_emulator(process)
        stop_azurite(azurite.process)


def table(results: dict) -> str:
    lines = [
        "| clients | what | p50 ms | p99 ms | per s |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in results["runs"]:
        for name in ("gate", "gate_limited_key", "arr_create", "policy_read", "table_transaction"):
            m = row[name]
            lines.append(f"| {row['clients']} | {name} | {m['p50_ms']} | {m['p99_ms']} | {m['per_s']} |")
        lines.append(
            f"| {row['clients']} | **gate p50 / (create + read + transaction) p50** | "
            f"**{row['gate_over_baseline_p50']}** | | |"
        )
        lines.append(
            f"| {row['clients']} | gate with a limited key p50 / gate p50 | {row['limited_key_over_gate_p50']} | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement (default 200)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="concurrent clients (default 1 8)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    results = run(args.requests, args.clients)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
