"""Sweep benchmark: one sweep at N sessions / N/20 projects beside the bare list and ledger read.

Seeds the ARR emulator with its bulk route and the ledger directly (one entity-group batch per
project, the same rows `reserve` + `activate` would write), then advances the virtual clock a
minute at a time and measures, in the same run:
  - bare list: `ArrClient.list()` of every page; bare ledger read: `store.snapshot(now)`;
  - a steady-state sweep (nothing to act on, no checkpoint due) and its ratio to list + read;
  - the checkpoint sweep (every session 5 uncharged minutes: all metered at once, worst case);
  - a sweep where 5% of sessions need an extension (wall time, ARR calls, table writes);
  - table transactions per sweep, peak RSS, and a cProfile top list of one steady sweep.
Run: `python -m bench.sweep_bench [--sizes 1000 10000] [--json]`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import platform
import pstats
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PER_PROJECT = 20
RATE = 3_000_000
ACTION_SHARE = 20  # one session in 20 (5%) has a short lease and needs an extension


def counting_store(connection: str, prefix: str):
    """A TableStore that counts its transactions and the entity operations in them."""
    from governor.store import TableStore

    class Counting(TableStore):
        transactions = 0
        operations = 0

        def _submit(self, table, ops):
            type(self).transactions += 1 if ops else 0
            type(self).operations += len(ops)
            return super()._submit(table, ops)

        def _submit_single_upsert(self, entity, mode):
            type(self).transactions += 1
            type(self).operations += 1
            return super()._submit_single_upsert(entity, mode)

    return Counting(connection, prefix)


def seed(store, emulator, projects: int, now: datetime) -> None:
    from governor.core.model import LedgerEntry, LedgerState, Period, ProjectPolicy, VmSize, cost_of
    from governor.store.entities import entry_to_entity, i64
    from governor.store.keys import STATE_ROW, open_key

    ledger = store._table(store.tables.ledger)
    short_count = PER_PROJECT // ACTION_SHARE
    for index in range(projects):
        name = f"p{index:05d}"
        store.put_project(
            ProjectPolicy(name=name, rates={VmSize.STANDARD: RATE}, daily_budget=10**12, max_concurrent=PER_PROJECT)
        )
        ops, held = [], 0
        for lease, count, tag in ((20, short_count, "s"), (240, PER_PROJECT - short_count, "l")):
            body = {"count": count, "leaseMinutes": lease, "idPrefix": f"{name}-{tag}"}
            for sid in emulator.admin("POST", "sessions/bulk", body)["ids"]:
                entry = LedgerEntry(
                    name, sid, "default", VmSize.STANDARD, LedgerState.ACTIVE, now, timedelta(minutes=lease),
                    rate=RATE, reserved=cost_of(RATE, lease), last_heartbeat=now + timedelta(minutes=11),
                )  # fmt: skip
                held += entry.reserved
                ops.append(("upsert", entry_to_entity(entry, open_key(sid))))
        state = {
            "PartitionKey": name,
            "RowKey": STATE_ROW,
            "Open": PER_PROJECT,
            "Held": i64(held),
            "DayKey": Period.DAY.key(now),
            "MonthKey": Period.MONTH.key(now),
        }
        ledger.submit_transaction([("upsert", state), *ops])


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def stats_total(emulator) -> int:
    counts = emulator.admin("GET", "stats")["requests"]
    return sum(v for k, v in counts.items() if "_emulator" not in k)


def run_size(size: int, azurite) -> dict:
    from governor.arr import clients_from_settings
    from governor.service.sweep import SweepConfig, Sweeper
    from governor.settings import load
    from tests.fixtures.azurite import azurite_env, unique_prefix
    from tests.fixtures.emulator import EmulatorHandle, start_emulator, stop_emulator

    process, url = start_emulator("--startup-seconds", "0", "--time-scale", "0.000001")
    try:
        emulator = EmulatorHandle(url)
        prefix = unique_prefix()
        env = {
            "ARR_ACCOUNT_ID": emulator.account_id,
            "ARR_ACCOUNT_KEY": emulator.account_key,
            "ARR_SERVICE_ENDPOINT": url,
            "ARR_STS_ENDPOINT": url,
            **azurite_env(prefix, azurite),
        }
        settings = load(env)
        arr = clients_from_settings(settings)
        store = counting_store(azurite.connection_string, prefix)
        clock_now = [datetime.fromisoformat(emulator.now().replace("Z", "+00:00")).astimezone(UTC)]
        started = time.perf_counter()
        seed(store, emulator, size // PER_PROJECT, clock_now[0])
        seeding = time.perf_counter() - started
        config = SweepConfig(concurrency=settings.get("GOVERNOR_SWEEP_CONCURRENCY"))
        sweeper = Sweeper(store, arr, lambda: clock_now[0], config)

        def advance(seconds):
            clock_now[0] = datetime.fromisoformat(emulator.advance(seconds).replace("Z", "+00:00")).astimezone(UTC)

        rows = {"sessions": size, "projects": size // PER_PROJECT, "seed_s": round(seeding, 1)}
        steady, lists, reads, writes = [], [], [], []
        for minute in range(1, 5):
            advance(60)
            list_s, _ = timed(arr["default"].list)
            read_s, _ = timed(lambda: store.snapshot(clock_now[0]))
            before = store.transactions
            sweep_s, report = timed(sweeper.run)
            assert report["sessions"] == size and not report["errors"], report
            if minute > 1:  # the first sweep also warms connections and creates the Health table
                steady.append(sweep_s)
                lists.append(list_s)
                reads.append(read_s)
                writes.append(store.transactions - before)
        rows["bare_list_s"] = round(statistics.median(lists), 3)
        rows["bare_read_s"] = round(statistics.median(reads), 3)
        rows["steady_sweep_s"] = round(statistics.median(steady), 3)
        rows["steady_ratio"] = round(rows["steady_sweep_s"] / (rows["bare_list_s"] + rows["bare_read_s"]), 2)
        rows["steady_transactions"] = max(writes)
        rows["steady_phases_ms"] = report["phasesMs"]

        advance(60)  # minute 5: every session has 5 uncharged minutes
        before = store.transactions
        rows["checkpoint_sweep_s"], report = timed(sweeper.run)
        rows["checkpoint_sweep_s"] = round(rows["checkpoint_sweep_s"], 3)
        rows["checkpoint_transactions"] = store.transactions - before
        rows["checkpoint_metered"] = report["metered"]

        profile = cProfile.Profile()
        advance(60)
        profile.enable()
        sweeper.run()
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(8)
        rows["profile"] = [line.strip() for line in text.getvalue().splitlines() if "{" in line or "(" in line][:10]

        advance(4 * 60)  # minute 10: the next checkpoint, so that the action sweep below meters nothing
        sweeper.run()
        advance(60)  # minute 11: the short leases (20 min) have 9 minutes left
        before, calls = store.transactions, stats_total(emulator)
        rows["action_sweep_s"], report = timed(sweeper.run)
        rows["action_sweep_s"] = round(rows["action_sweep_s"], 3)
        rows["action_counts"] = report["counts"]
        rows["action_arr_calls"] = stats_total(emulator) - calls
        rows["action_transactions"] = store.transactions - before
        rows["action_phases_ms"] = report["phasesMs"]
        rows["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        for client in arr.values():
            client.close()
        return rows
    finally:
        stop_emulator(process)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from tests.fixtures import azurite as azurite_fixture

    azurite = azurite_fixture.start_azurite()
    azurite_fixture._current = azurite
    try:
        results = [run_size(size, azurite) for size in args.sizes]
    finally:
        azurite_fixture.stop_azurite(azurite.process)
    if args.json:
        print(json.dumps({"machine": platform.platform(), "results": results}, indent=2))
        return 0
    print(f"machine: {platform.platform()}, python {platform.python_version()}")
    keys = [k for k in results[0] if k != "profile"]
    print("| " + " | ".join(["metric", *[str(r["sessions"]) for r in results]]) + " |")
    print("|---|" + "---:|" * len(results))
    for key in keys:
        print("| " + " | ".join([key, *[str(r[key]) for r in results]]) + " |")
    print("\ncProfile of one steady sweep at", results[-1]["sessions"], "sessions (by own time):")
    for line in results[-1]["profile"]:
        print("   ", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
