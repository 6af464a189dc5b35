"""Keys benchmark: what a wrong caller key costs, against a bare baseline taken in the same run.

One run starts Azurite and the ARR emulator and measures:

- CPU per wrong key (thread CPU time of `find_key`, after the policy read the gate makes on every
  request anyway) in a project with 1 and with 100 keys: target <= 1 ms whatever the number of keys.
  Beside it, in the same run: the bare policy read (what every request pays before the key check),
  and the keys issued before key ids (salted scrypt), which a wrong key of their shape is checked
  against one by one (`--legacy-keys`, 100 by default);
- a 1-client admission loop through the function itself, alone and beside 100 wrong keys a second
  (refused requests on a project with 100 keys, from another thread), taken in alternating blocks
  so the box's drift falls on both alike: target p50 with / p50 alone <= 1.10.

Run: `python -m bench.keys_bench [--requests N] [--wrong-per-second 100] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import Gate, backends, percentile, quiet  # noqa: E402


def cpu_per_call(action, count: int) -> float:
    """Mean thread CPU seconds of `action(i)` over `count` calls."""
    start = time.thread_time()
    for i in range(count):
        action(i)
    return (time.thread_time() - start) / count


def wrong_key_cpu(store, wrong_keys: int, legacy_keys: int) -> dict:
    from governor.core.model import ProjectPolicy, VmSize, utcnow
    from governor.store import callerkeys
    from governor.store.projects import PROJECT_PARTITION

    now = utcnow()
    result = {}
    for count in (1, 100):
        name = f"keys{count}"
        store.put_project(ProjectPolicy(name=name, rates={VmSize.STANDARD: 3_000_000}))
        for i in range(count):
            store.add_key(name, f"k{i}", now)
        keys = [callerkeys.new_key() for _ in range(wrong_keys)]

        def check(i, name=name, keys=keys):
            store.get_project(name)  # the gate's policy read, which the key check uses
            if store.find_key(name, keys[i], now) is not None:
                raise AssertionError("a wrong key was accepted")

        read = cpu_per_call(lambda i, name=name: store.get_project(name), wrong_keys)
        both = cpu_per_call(check, wrong_keys)
        result[f"keys_{count}"] = {
            "policy_read_cpu_ms": round(read * 1000, 4),
            "read_and_check_cpu_ms": round(both * 1000, 4),
            "wrong_key_cpu_ms": round(max(both - read, 0) * 1000, 4),
        }
    if legacy_keys:
        name = "legacy"
        store.put_project(ProjectPolicy(name=name, rates={VmSize.STANDARD: 3_000_000}))
        table = store._table(store.tables.projects)
        row = table.get_entity(PROJECT_PARTITION, name)
        records = [
            {"name": f"old{i}", "hash": callerkeys.hash_key("gk_" + "A" * 43), "createdAt": now.isoformat()}
            for i in range(legacy_keys)
        ]
        row["Keys"] = json.dumps(records)
        table.upsert_entity(row)
        wrong = "gk_" + "B" * 43  # the shape of a key from before key ids: every scrypt hash is tried

        def legacy(_):
            store.get_project(name)
            store.find_key(name, wrong, now)

        both = cpu_per_call(legacy, 3)
        result[f"legacy_{legacy_keys}"] = {"wrong_key_cpu_ms": round(both * 1000, 1)}
    return result


def admission_beside_wrong_keys(gate: Gate, store, requests: int, per_second: float, block: int = 16) -> dict:
    """A 1-client admission loop alone and beside `per_second` wrong keys/s, in alternating blocks."""
    from governor.store import callerkeys

    key = store.rotate_key("loop")
    gate.create("loop", key)
    wrong = [callerkeys.new_key() for _ in range(1000)]
    hammering = threading.Event()
    stop = threading.Event()
    sent = [0, 0]  # wrong keys sent, of which refused (403)

    def hammer():
        import azure.functions as func

        period = 1.0 / per_second
        next_at = time.perf_counter()
        while not stop.is_set():
            if not hammering.wait(0.05):
                next_at = time.perf_counter()
                continue
            response = gate.read(
                func.HttpRequest(
                    method="GET",
                    url="/api/projects/keys100/sessions/x",
                    headers={"X-Api-Key": wrong[sent[0] % len(wrong)]},
                    route_params={"project": "keys100", "sessionId": str(uuid.uuid4())},
                    body=b"",
                )
            )
            sent[0] += 1
            sent[1] += response.status_code == 403
            next_at += period
            time.sleep(max(0.0, next_at - time.perf_counter()))

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    samples: dict[str, list[float]] = {"alone": [], "beside_wrong_keys": []}
    started = time.perf_counter()
    try:
        done = 0
        while done < requests:
            for label in samples:
                if label == "beside_wrong_keys":
                    hammering.set()
                    time.sleep(0.05)  # the hammer is running when the block starts
                for _ in range(min(block, requests - done)):
                    begin = time.perf_counter()
                    gate.create("loop", key)
                    samples[label].append(time.perf_counter() - begin)
                hammering.clear()
            done += block
        wall = time.perf_counter() - started
    finally:
        stop.set()
        thread.join(5)
    result = {
        label: {
            "count": len(s),
            "p50_ms": round(percentile(s, 50) * 1000, 2),
            "p99_ms": round(percentile(s, 99) * 1000, 2),
        }
        for label, s in samples.items()
    }
    result["wrong_keys_sent"] = sent[0]
    result["wrong_keys_refused"] = sent[1]
    result["wrong_keys_per_second"] = round(sent[0] / (wall / 2), 1)  # hammered about half the run
    result["p50_ratio"] = round(result["beside_wrong_keys"]["p50_ms"] / result["alone"]["p50_ms"], 3)
    return result


def run(requests: int, per_second: float, wrong_keys: int, legacy_keys: int) -> dict:
    from governor.bootstrap import get_context
    from governor.core.model import ProjectPolicy, VmSize

    with backends("keys", env={"GOVERNOR_KEY_PEPPER": "bench-pepper-" + uuid.uuid4().hex}):
        store = get_context().store
        store.put_project(ProjectPolicy(name="loop", rates={VmSize.STANDARD: 3_000_000}, max_concurrent=1_000_000))
        results: dict = {"requests": requests}
        results["cpu"] = wrong_key_cpu(store, wrong_keys, legacy_keys)
        results["admission"] = admission_beside_wrong_keys(Gate(), store, requests, per_second)
        return results


def table(results: dict) -> str:
    cpu, admission = results["cpu"], results["admission"]
    lines = [
        "| measure | target | result |",
        "|---|---|---|",
    ]
    for count in (1, 100):
        row = cpu[f"keys_{count}"]
        lines.append(
            f"| CPU per wrong key, {count} key(s) in the project (policy read {row['policy_read_cpu_ms']} ms "
            f"apart) | <= 1 ms | {row['wrong_key_cpu_ms']} ms |"
        )
    for name, row in cpu.items():
        if name.startswith("legacy_"):
            lines.append(
                f"| baseline: CPU per wrong key of the old shape, {name[7:]} scrypt keys | - "
                f"| {row['wrong_key_cpu_ms']} ms |"
            )
    lines += [
        f"| 1-client admission p50 alone | - | {admission['alone']['p50_ms']} ms |",
        f"| the same beside {admission['wrong_keys_per_second']} wrong keys/s "
        f"({admission['wrong_keys_refused']}/{admission['wrong_keys_sent']} refused) | - "
        f"| {admission['beside_wrong_keys']['p50_ms']} ms |",
        f"| p50 ratio | <= 1.10 | {admission['p50_ratio']} |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=320, help="admissions per side of the loop (default 320)")
    parser.add_argument("--wrong-per-second", type=float, default=100, help="wrong keys a second (default 100)")
    parser.add_argument("--wrong-keys", type=int, default=2000, help="wrong keys per CPU measurement (default 2000)")
    parser.add_argument("--legacy-keys", type=int, default=100, help="scrypt keys of the baseline (0: skip)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    quiet()
    results = run(args.requests, args.wrong_per_second, args.wrong_keys, args.legacy_keys)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
