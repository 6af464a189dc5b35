"""A limit that admits exactly K admits exactly K when 4 gate processes burst on it at once.

Each process is its own governor context, TableStore and group commit, as 4 Flex Consumption
instances are: they meet only at the project's state row, under its ETag. 32 creates (8 threads
in each process) race a project's budget, its maxConcurrent, or a named key's own budget or
maxConcurrent, set to admit exactly K of them. Exactly K are started, every other one is refused
for that limit, and then the ledger's rows, its totals and ARR all say K. A fresh project per run:
two runs per case in `make test`, 20 in a row in `make soak`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from governor.core.model import MICROS, CallerLimits, LedgerState, Period, cost_of, utcnow
from governor.store import TableStore
from governor.store.entities import get
from governor.store.escrow import SLICE_PREFIX, escrow_of
from governor.store.keys import OPEN_PREFIX, STATE_ROW
from tests.fixtures.azurite import unique_prefix
from tests.integration.gate.conftest import RATE, Gate
from tests.reliability.test_two_processes import BODY, Worker

INSTANCES, THREADS = 4, 8
REQUESTS = INSTANCES * THREADS  # more than any K
COST = cost_of(RATE, BODY["maxLeaseTime"])  # what each create the workers send reserves
ROOMY = {"daily_budget": 1000 * MICROS, "max_concurrent": REQUESTS}  # project limits that never bind
FAST_RUNS, SOAK_RUNS = 2, 20

BUDGET, CONCURRENCY = (402, "budget-exhausted"), (429, "concurrency-limit")
# kind: (the project's limits for K, a named key's own limits for K or None, the refusal: status, reason, "limit")
LIMITS = {
    "budget": (lambda k: {"daily_budget": k * COST}, None, (*BUDGET, None)),
    "max-concurrent": (lambda k: {"max_concurrent": k}, None, (*CONCURRENCY, None)),
    "key-budget": (lambda k: {}, lambda k: CallerLimits(daily_budget=k * COST), (*BUDGET, "caller")),
    "key-max-concurrent": (lambda k: {}, lambda k: CallerLimits(max_concurrent=k), (*CONCURRENCY, "caller")),
}


@dataclass
class Instances:
    workers: list[Worker]
    gate: Gate  # this process only writes projects and keys and reads the ledger and ARR's truth
    started: set[str] = field(default_factory=set)  # every session admitted in this module; none is stopped
    names: itertools.count = field(default_factory=itertools.count)


@pytest.fixture(scope="module")
def instances(azurite, emulator_process):
    emulator_process.reset()  # ARR runs no session of an earlier test
    prefix = unique_prefix()
    env = {
        **emulator_process.env(),
        "ARR_API_VERSION": "2021-01-01",
        "GOVERNOR_TABLES_CONNECTION": azurite.connection_string,
        "GOVERNOR_TABLE_PREFIX": prefix,
    }
    with pytest.MonkeyPatch.context() as patch:  # as gate_env: one ARR account, no App Service identity
        for name in ("GOVERNOR_ARR_ACCOUNTS", "WEBSITE_AUTH_ENABLED", "WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME"):
            patch.delenv(name, raising=False)
        workers = [Worker(env) for _ in range(INSTANCES)]
    try:
        yield Instances(workers, Gate(TableStore(azurite.connection_string, prefix), emulator_process))
    finally:
        for worker in workers:
            worker.close()


def burst(instances: Instances, project: str, key: str) -> list[dict]:
    for worker in instances.workers:
        worker.ready(project, key, THREADS)
    for worker in instances.workers:
        worker.go()
    return [reply for worker in instances.workers for reply in worker.replies()]  # each flushed its activations


def assert_ledger_holds_exactly(store: TableStore, project: str, admitted: list[str]) -> None:
    rows = store._query(store.tables.ledger, "PartitionKey eq @p", {"p": project})
    state = next(row for row in rows if row["RowKey"] == STATE_ROW)
    open_rows = [row for row in rows if row["RowKey"].startswith(OPEN_PREFIX)]
    assert sorted(get(row, "SessionId") for row in open_rows) == sorted(admitted), project
    assert {get(row, "State") for row in open_rows} == {LedgerState.ACTIVE.value}, project
    reserved = [get(row, "Reserved") for row in open_rows]
    slices = [row for row in rows if row["RowKey"].startswith(SLICE_PREFIX)]  # escrow the state row counts
    free, slots = escrow_of(slices)
    assert (get(state, "Open"), get(state, "Held")) == (len(admitted) + slots, sum(reserved) + free), project
    assert reserved == [COST] * len(admitted), project
    day = Period.DAY.key(utcnow())
    assert store.usage(project, Period.DAY, day).reserved == sum(reserved), project


def race_once(instances: Instances, kind: str, k: int) -> None:
    project_limits, key_limits, refusal = LIMITS[kind]
    project = f"burst{next(instances.names)}"
    key = instances.gate.project(project, **(ROOMY | project_limits(k)))
    if key_limits is not None:
        key = instances.gate.store.add_key(project, "kiosk", utcnow(), limits=key_limits(k))
    replies = burst(instances, project, key)
    admitted = [reply["sessionId"] for reply in replies if reply["status"] == 202]
    instances.started |= set(admitted)
    refused = {(reply["status"], reply["reason"], reply["limit"]) for reply in replies if reply["status"] != 202}
    assert (len(replies), len(admitted), refused) == (REQUESTS, k, {refusal}), project
    assert_ledger_holds_exactly(instances.gate.store, project, admitted)
    in_arr = {session["id"] for session in instances.gate.open_sessions_in_arr()}
    assert in_arr == instances.started, {"orphans": in_arr - instances.started, "missing": instances.started - in_arr}


@pytest.mark.parametrize(
    "runs", [FAST_RUNS, pytest.param(SOAK_RUNS, marks=pytest.mark.slow)], ids=["twice", "twenty-in-a-row"]
)
@pytest.mark.parametrize("k", [1, 7, 20])
@pytest.mark.parametrize("kind", LIMITS)
def test_a_limit_for_exactly_k_admits_exactly_k_across_four_processes(instances, kind, k, runs):
    for _ in range(runs):
        race_once(instances, kind, k)


def fire(workers: list[Worker], project: str, key: str, count: int) -> list[dict]:
    for worker in workers:
        worker.ready(project, key, count)
    for worker in workers:
        worker.go()
    return [reply for worker in workers for reply in worker.replies()]


def test_a_slice_another_process_took_back_admits_nothing_more(instances):
    """Escrow across processes: every process takes a slice with its first admissions; one
    process then spends the whole budget, taking the others' slices back; their copies of their
    slices are stale, and their next creates must be refused, not paid from a slice that is gone."""
    project = f"burst{next(instances.names)}"
    key = instances.gate.project(project, **(ROOMY | {"daily_budget": 20 * COST}))
    first = fire(instances.workers, project, key, 2)  # 8 at once
    rows = instances.gate.store._query(instances.gate.store.tables.ledger, "PartitionKey eq @p", {"p": project})
    assert any(row["RowKey"].startswith(SLICE_PREFIX) for row in rows), "no process took a slice"
    spender, *others = instances.workers
    rest = fire([spender], project, key, 20)
    late = fire(others, project, key, 4)
    replies = first + rest + late
    admitted = [reply["sessionId"] for reply in replies if reply["status"] == 202]
    instances.started |= set(admitted)
    assert len(admitted) == 20 and all(reply["status"] == 402 for reply in late), project
    assert_ledger_holds_exactly(instances.gate.store, project, admitted)
