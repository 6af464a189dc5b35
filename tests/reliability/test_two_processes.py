"""Two gate processes on one Azurite: group commit in each, ETags between them.

The race (50 requests, a budget for exactly 7) split 25/25 over this process and a second one
must still admit exactly 7 with no orphan; and a gate process killed while its batches are in
flight leaves, after one sweep, a ledger that equals ARR: every session ARR runs is charged to an
open row, every open row is a session ARR runs, and the totals are what the rows add up to.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from governor.core.model import MICROS, LedgerState, Period, utcnow
from tests.reliability.test_race import ADMITTED, PARALLEL, assert_arr_matches_ledger

ROOT = Path(__file__).resolve().parents[2]
FAST_RUNS = 3
SOAK_RUNS = 20
BODY = {"size": "Standard", "maxLeaseTime": 30}  # 3.00 at the gate fixture's 6.00/h


class Worker:
    def __init__(self, env: dict):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.gate_worker"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ready(self, project: str, key: str, count: int) -> None:
        self.process.stdin.write(json.dumps({"project": project, "key": key, "count": count, "body": BODY}) + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ready"

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def replies(self) -> list[dict]:
        return json.loads(self.process.stdout.readline())

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(30)


@pytest.fixture
def worker(gate_env):
    started = Worker(gate_env)
    yield started
    started.close()


def race_across_processes(gate, worker: Worker, project: str) -> set[str]:
    key = gate.project(project, daily_budget=(ADMITTED * 3 + 2) * MICROS, max_concurrent=PARALLEL)
    half = PARALLEL // 2
    worker.ready(project, key, PARALLEL - half)
    here: list = [None] * half
    barrier = threading.Barrier(half + 1)

    def one(index):
        barrier.wait()
        reply = gate.create(project, key, BODY)
        here[index] = {"status": reply.status, "reason": reply.reason, "sessionId": (reply.body or {}).get("sessionId")}

    threads = [threading.Thread(target=one, args=(i,)) for i in range(half)]
    for thread in threads:
        thread.start()
    worker.go()
    barrier.wait()
    for thread in threads:
        thread.join(120)
    replies = here + worker.replies()
    admitted = [r for r in replies if r["status"] == 202]
    refused = {(r["status"], r["reason"]) for r in replies if r["status"] != 202}
    assert len(admitted) == ADMITTED, (project, sorted(refused))
    assert {reason for _, reason in refused} <= {"budget-exhausted", "concurrency-limit"}, project
    usage = gate.store.usage(project, Period.DAY, Period.DAY.key(utcnow()))
    assert (usage.reserved, usage.remaining) == (ADMITTED * 3 * MICROS, 2 * MICROS), project
    return {r["sessionId"] for r in admitted}


def race_loop(gate, worker: Worker, runs: int) -> None:
    projects, admitted = [], set()
    for run in range(runs):
        projects.append(f"duo{run}")
        admitted |= race_across_processes(gate, worker, projects[-1])
        assert_arr_matches_ledger(gate, projects, admitted)
    assert len(admitted) == runs * ADMITTED


def test_the_race_holds_across_two_processes(gate, worker):
    race_loop(gate, worker, FAST_RUNS)


@pytest.mark.slow
def test_the_race_holds_across_two_processes_twenty_runs_in_a_row(gate, worker):
    race_loop(gate, worker, SOAK_RUNS)


# ---------------------------------------------------------------- crash
KILLS = 5
BURST = 40


def sweep_after_the_grace(gate_env) -> datetime:
    """One sweep whose clock is past the pending grace, so every pending admission is due; returns
    that clock."""
    from governor.arr import clients_from_settings
    from governor.core.model import PENDING_GRACE
    from governor.service.sweep import SweepConfig, Sweeper
    from governor.settings import load
    from governor.store import TableStore

    settings = load(gate_env)
    arr = clients_from_settings(settings)
    store = TableStore.from_settings(settings)
    later = utcnow() + PENDING_GRACE + timedelta(minutes=1)
    try:
        Sweeper(store, arr, lambda: later, SweepConfig(concurrency=4)).run()
        return later
    finally:
        for client in arr.values():
            client.close()


def test_a_gate_killed_with_batches_in_flight_leaves_a_ledger_that_equals_arr_after_one_sweep(gate, gate_env):
    rng = random.Random(int(os.environ.get("GATE_CRASH_SEED", "14")))
    projects, pending_before = [], 0
    for round_ in range(KILLS):
        project = f"crash{round_}"
        projects.append(project)
        key = gate.project(project, daily_budget=1000 * MICROS, max_concurrent=BURST, idle_timeout=timedelta(hours=2))
        worker = Worker(gate_env)
        worker.ready(project, key, BURST)
        worker.go()
        time.sleep(rng.uniform(0.05, 0.6))
        worker.kill()
        pending_before += sum(e.state is LedgerState.PENDING for e in gate.store.list_entries(project))

    swept_at = sweep_after_the_grace(gate_env)

    arr_running = {s["id"] for s in gate.open_sessions_in_arr()}
    charged: set[str] = set()
    for project in projects:
        entries = gate.store.list_entries(project)
        assert all(e.state is LedgerState.ACTIVE for e in entries), (project, [e.state for e in entries])
        charged |= {e.session_id for e in entries}
        # the hold shows on the latest day the ledger has seen: the sweep's, 6 minutes ahead of the
        # real clock, which is already the next day in the last minutes of one
        usage = gate.store.usage(project, Period.DAY, Period.DAY.key(swept_at))
        assert usage.reserved == sum(e.reserved for e in entries), project  # no money lost or made up
    assert arr_running == charged, {"unbudgeted": arr_running - charged, "not running": charged - arr_running}
    assert pending_before > 0, "no kill landed between a reservation and its activation"
