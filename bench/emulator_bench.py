"""Emulator benchmark: list latency at 1k and 10k sessions (v1 single array and 2021-01-01
all pages), and creates per second at 1 and 4 clients (http.client, keep-alive).

The baseline is a trivial GET (`/_emulator/clock`) on the same server in the same run, so the
ratios mean something on any machine. Run: `python -m bench.emulator_bench [--sizes 1000 10000]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def timed(action, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def run(sizes: list[int], creates: int, client_counts: list[int]) -> dict:
    import requests

    from tests.fixtures.emulator import EmulatorHandle, start_emulator, stop_emulator
    from tests.integration.emulator.client import Arr

    process, url = start_emulator("--startup-seconds", "0")
    try:
        handle = EmulatorHandle(url)
        arr = Arr(url, handle.account_id, handle.account_key)
        auth = {"Authorization": f"Bearer {arr.token()}"}
        bare = requests.Session()
        baseline = summary(timed(lambda: bare.get(f"{url}/_emulator/clock").raise_for_status(), 300))
        results: dict = {"baseline_get": baseline, "lists": [], "creates": []}

        for size in sizes:
            handle.reset()
            handle.bulk(size)
            v1_url = f"{url}/v1/accounts/{handle.account_id}/sessions"

            def v1_list(v1_url=v1_url, size=size):
                body = arr.http.get(v1_url, headers=auth).json()
                assert len(body["sessions"]) == size

            def paged_list(size=size):
                assert len(arr.list_all()) == size

            repeat = max(3, 20_000 // size)
            for name, action in (("v1 list (one array)", v1_list), ("2021 list (all pages)", paged_list)):
                row = summary(timed(action, repeat))
                row.update(name=name, sessions=size, ratio=round(row["p50_ms"] / baseline["p50_ms"], 1))
                results["lists"].append(row)

        host, port = urlsplit(url).hostname, urlsplit(url).port
        for clients in client_counts:
            handle.reset()
            token = arr.token()

            def create_many(n, token=token):
                connection = http.client.HTTPConnection(host, port, timeout=30)
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                body = b'{"maxLeaseTimeMinutes": 60, "size": "Standard"}'
                for _ in range(n):
                    path = f"/accounts/{handle.account_id}/sessions/b-{uuid.uuid4().hex}?api-version=2021-01-01"
                    connection.request("PUT", path, body, headers)
                    response = connection.getresponse()
                    response.read()
                    assert response.status == 201
                connection.close()

            def get_many(n):
                connection = http.client.HTTPConnection(host, port, timeout=30)
                for _ in range(n):
                    connection.request("GET", "/_emulator/clock")
                    response = connection.getresponse()
                    response.read()
                    assert response.status == 200
                connection.close()

            per_client = creates // clients
            rates = {}
            for name, work in (("create", create_many), ("baseline", get_many)):
                start = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    list(pool.map(work, [per_client] * clients))
                rates[name] = per_client * clients / (time.perf_counter() - start)
            results["creates"].append(
                {
                    "clients": clients,
                    "creates_per_s": round(rates["create"], 1),
                    "baseline_per_s": round(rates["baseline"], 1),
                    "ratio": round(rates["create"] / rates["baseline"], 2),
                }
            )
        return results
    finally:
        stop_emulator(process)


def table(results: dict) -> str:
    base = results["baseline_get"]
    lines = [
        f"Machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        f"Baseline: GET /_emulator/clock p50 {base['p50_ms']} ms (n={base['n']})",
        "",
        "| list | sessions | p50 ms | max ms | p50 / baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in results["lists"]:
        lines.append(f"| {row['name']} | {row['sessions']} | {row['p50_ms']} | {row['max_ms']} | {row['ratio']} |")
    lines += ["", "| clients | creates/s | baseline GETs/s | creates / baseline |", "|---:|---:|---:|---:|"]
    for row in results["creates"]:
        lines.append(f"| {row['clients']} | {row['creates_per_s']} | {row['baseline_per_s']} | {row['ratio']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 10_000], help="sessions listed (default 1000 10000)"
    )
    parser.add_argument("--creates", type=int, default=1000, help="creates per measurement (default 1000)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="concurrent clients (default 1 4)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    results = run(args.sizes, args.creates, args.clients)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
