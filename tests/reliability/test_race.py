"""50 parallel creates where the budget admits exactly 7, again and again: every run holds.

tests/integration/gate/test_race.py runs it once; this loops it and checks, after every run,
the whole of ARR against the whole ledger: no over-commit and no orphan session.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from governor.core.model import MICROS, LedgerState, Period, utcnow

PARALLEL = 50
ADMITTED = 7
FAST_RUNS = 3  # make test
SOAK_RUNS = 20  # make soak


def race_once(gate, project: str) -> set[str]:
    # 30 minutes at 6/h cost 3; a budget of 7 x 3 + 2 admits exactly 7
    key = gate.project(project, daily_budget=(ADMITTED * 3 + 2) * MICROS, max_concurrent=PARALLEL)
    body = {"size": "Standard", "maxLeaseTime": 30}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        replies = list(pool.map(lambda _: gate.create(project, key, body), range(PARALLEL)))
    admitted = [r for r in replies if r.status == 202]
    refused = [r for r in replies if r.status != 202]
    assert len(admitted) == ADMITTED, (project, sorted({(r.status, r.reason) for r in refused}))
    assert {r.reason for r in refused} <= {"budget-exhausted", "concurrency-limit"}, project
    usage = gate.store.usage(project, Period.DAY, Period.DAY.key(utcnow()))
    assert (usage.reserved, usage.remaining) == (ADMITTED * 3 * MICROS, 2 * MICROS), project
    return {r.body["sessionId"] for r in admitted}


def assert_arr_matches_ledger(gate, projects: list[str], admitted: set[str]) -> None:
    gate.settle()  # this process's deferred activations; the second process flushes its own
    entries = [e for p in projects for e in gate.store.list_entries(p, include_closed=True)]
    assert {e.session_id for e in entries} == admitted  # no pending leftovers, no extra rows
    assert all(e.state is LedgerState.ACTIVE for e in entries)
    open_in_arr = {s["id"] for s in gate.open_sessions_in_arr()}
    assert open_in_arr == admitted, {"orphans": open_in_arr - admitted, "missing": admitted - open_in_arr}


def race_loop(gate, runs: int) -> None:
    projects, admitted = [], set()
    for run in range(runs):
        projects.append(f"race{run}")
        admitted |= race_once(gate, projects[-1])
        assert_arr_matches_ledger(gate, projects, admitted)
    assert len(admitted) == runs * ADMITTED


def test_the_race_holds_on_every_run(gate):
    race_loop(gate, FAST_RUNS)


@pytest.mark.slow
def test_the_race_holds_twenty_runs_in_a_row(gate):
    race_loop(gate, SOAK_RUNS)
