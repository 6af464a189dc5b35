"""Cold start benchmark: what the platform pays when it imports function_app in a new worker.

1. `import function_app` against the bare baseline `import azure.functions` alone, each timed
   inside a fresh interpreter (runs interleaved so load on the box hits both alike), medians.
   Target: ratio <= 1.15, with APPLICATIONINSIGHTS_CONNECTION_STRING absent and present (the
   telemetry SDK is configured on the first invocation, never at import).
2. The first request after that import, in a fresh interpreter against a running Azurite and
   ARR emulator: GET /api/health (storage read + ARR list: SDK imports, token, connections)
   and GET /api/openapi.json (no I/O), called through `get_user_function()`; the second
   request of the same interpreter is the warm baseline beside it. Health runs twice: telemetry
   off, and on (a connection string whose ingestion endpoint is a closed local port, so the
   first request pays the Azure Monitor distro's import and setup, and exports go nowhere).

Run: `python -m bench.cold_start_bench [--runs N] [--request-runs N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO = 1.15
# A syntactically valid connection string that exports nowhere (port 9 is closed).
TELEMETRY_ON = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
    "IngestionEndpoint=http://127.0.0.1:9/;LiveEndpoint=http://127.0.0.1:9/"
}

IMPORT_PROBE = """
import sys, time
start = time.perf_counter()
import {module}
print(time.perf_counter() - start)
"""

REQUEST_PROBE = """
import json, sys, time
start = time.perf_counter()
import function_app
imported = time.perf_counter() - start
import azure.functions as func
from governor.functions.openapi_doc import registered_functions
name, route = sys.argv[1], sys.argv[2]
handler = {f.get_function_name(): f for f in registered_functions(function_app.app)}[name].get_user_function()
timings = []
for _ in range(2):
    request = func.HttpRequest(method="GET", url="http://localhost/api/" + route, headers={}, body=b"")
    began = time.perf_counter()
    response = handler(request)
    timings.append((time.perf_counter() - began, response.status_code))
print(json.dumps({"import": imported, "first": timings[0], "second": timings[1]}))
"""


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARR_", "GOVERNOR_", "APPLICATIONINSIGHTS_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the platform imports from cached bytecode
    env.update({"PYTHONPATH": str(ROOT)}, **(extra or {}))
    return env


def run_probe(code: str, *args: str, env: dict[str, str]) -> tuple[str, float]:
    """(stdout, whole-process wall seconds) of a fresh interpreter running `code`."""
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    wall = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(f"probe failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1], wall


TELEMETRY_LABEL = "function_app (telemetry on)"


def measure_imports(runs: int) -> dict:
    probes = {  # label -> (module, environment)
        "azure.functions": ("azure.functions", child_env()),
        "function_app": ("function_app", child_env()),
        TELEMETRY_LABEL: ("function_app", child_env(TELEMETRY_ON)),
    }
    samples: dict[str, dict[str, list[float]]] = {label: {"import": [], "process": []} for label in probes}
    for module, env in probes.values():  # warm the file cache and __pycache__ once, untimed
        run_probe(IMPORT_PROBE.format(module=module), env=env)
    for _ in range(runs):
        for label, sample in samples.items():
            module, env = probes[label]
            out, wall = run_probe(IMPORT_PROBE.format(module=module), env=env)
            sample["import"].append(float(out))
            sample["process"].append(wall)
    medians = {m: {k: statistics.median(v) for k, v in s.items()} for m, s in samples.items()}
    base = medians["azure.functions"]
    return {
        "runs": runs,
        "median_ms": {m: {k: round(v * 1000, 1) for k, v in s.items()} for m, s in medians.items()},
        "import_ratio": round(medians["function_app"]["import"] / base["import"], 3),
        "process_ratio": round(medians["function_app"]["process"] / base["process"], 3),
        "telemetry_import_ratio": round(medians[TELEMETRY_LABEL]["import"] / base["import"], 3),
        "telemetry_process_ratio": round(medians[TELEMETRY_LABEL]["process"] / base["process"], 3),
    }


def measure_first_requests(runs: int) -> dict:
    from bench.harness import start_backends, stop_backends

    azurite, emulator = start_backends()
    try:
        env = child_env(
            {
                **emulator.env(),
                "GOVERNOR_TABLES_CONNECTION": azurite.connection_string,
                "GOVERNOR_TABLE_PREFIX": "cold" + uuid.uuid4().hex[:8],
            }
        )
        # one sweep, so health has a recent sweep and answers 200 rather than "stale"
        sweep = [sys.executable, "-m", "governor", "sweep", "--json"]
        subprocess.run(sweep, cwd=ROOT, env=env, capture_output=True, timeout=120, check=False)
        results = {}
        probes = (("health", "health", env), ("openapi", "openapi.json", env))
        probes += (("health (telemetry on)", "health", {**env, **TELEMETRY_ON}),)
        for label, route, probe_env in probes:
            name = label.split(" ")[0]
            rows = [json.loads(run_probe(REQUEST_PROBE, name, route, env=probe_env)[0]) for _ in range(runs)]
            first = statistics.median(r["first"][0] for r in rows)
            second = statistics.median(r["second"][0] for r in rows)
            results[label] = {
                "runs": runs,
                "statuses": sorted({r["first"][1] for r in rows} | {r["second"][1] for r in rows}),
                "import_ms": round(statistics.median(r["import"] for r in rows) * 1000, 1),
                "first_ms": round(first * 1000, 1),
                "second_ms": round(second * 1000, 1),
                "first_over_second": round(first / second, 1) if second else None,
            }
        return results
    finally:
        stop_backends(azurite, emulator)


def table(results: dict) -> str:
    imports = results["imports"]
    lines = [
        f"machine: {results['machine']}; load average at start {results['load']}; {imports['runs']} runs each",
        "",
        "| import (fresh interpreter) | median import ms | median process ms |",
        "|---|---:|---:|",
    ]
    for module, median in imports["median_ms"].items():
        lines.append(f"| {module} | {median['import']} | {median['process']} |")
    for label, key in (("function_app", "import_ratio"), (TELEMETRY_LABEL, "telemetry_import_ratio")):
        verdict = "met" if imports[key] <= TARGET_RATIO else "MISSED"
        process = imports[key.replace("import", "process")]
        lines.append(
            f"| **ratio {label} / azure.functions** | **{imports[key]}** (target <= {TARGET_RATIO}: {verdict}) "
            f"| {process} |"
        )
    lines += [
        "",
        "| first request after import | status | import ms | first ms | second ms | first / second |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, row in results.get("requests", {}).items():
        statuses = ",".join(map(str, row["statuses"]))
        lines.append(
            f"| {name} | {statuses} | {row['import_ms']} | {row['first_ms']} | {row['second_ms']} "
            f"| {row['first_over_second']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh interpreters per import (default 10)")
    parser.add_argument("--request-runs", type=int, default=5, help="fresh interpreters per route (default 5)")
    parser.add_argument("--no-requests", action="store_true", help="skip the first-request part (no Azurite needed)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load": round(os.getloadavg()[0], 1),
        "imports": measure_imports(args.runs),
    }
    if not args.no_requests:
        results["requests"] = measure_first_requests(args.request_runs)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
