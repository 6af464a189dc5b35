"""Admissions from many instances at once: stores that each have their own group commit, as Flex
Consumption instances do, race one project's state row under its ETag. A budget, a concurrency
limit or a key's own budget that admits exactly K admits exactly K (not fewer, not more)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.errors import Refusal
from governor.core.model import CallerLimits, LedgerState, cost_of
from governor.core.policy.gate import SessionRequest, admit
from governor.store import TableStore
from governor.store.entities import get
from governor.store.keys import STATE_ROW
from tests.integration.store.helpers import RATE, entry, policy

LEASE = 60
COST = cost_of(RATE, LEASE)  # 6.00 at 6/h
INSTANCES, CLIENTS = 8, 4


def race(azurite, table_prefix, project: str, limits: CallerLimits | None = None, caller: str | None = None):
    """INSTANCES stores x CLIENTS threads, each one admission, all released together; returns
    (admitted entries, refusals, the stores)."""
    stores = [TableStore(azurite.connection_string, table_prefix) for _ in range(INSTANCES)]
    now = datetime.now(UTC)
    barrier = threading.Barrier(INSTANCES * CLIENTS)
    admitted, refused, failed = [], [], []
    lock = threading.Lock()
    request = SessionRequest(entry("x").size, timedelta(minutes=LEASE))

    def client(store):
        pending = entry(str(uuid.uuid4()), project, LEASE, now)
        if caller:
            pending = pending.__class__(**{**pending.__dict__, "caller": caller})
        barrier.wait()
        try:
            got, _ = store.reserve(
                project,
                pending,
                lambda snapshot: admit(request, replace(snapshot, caller_limits=limits)),
                now,
                policy=stores[0].get_project(project),
                count_caller=limits is not None,
                fresh=True,
            )
            with lock:
                admitted.append(got)
        except Refusal as refusal:
            with lock:
                refused.append(refusal)
        except Exception as exc:  # anything else is a defect the assertions name
            with lock:
                failed.append(exc)

    threads = [threading.Thread(target=client, args=(s,)) for s in stores for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == [], failed
    return admitted, refused, stores


def ledger_rows(store, project):
    return store._query(store.tables.ledger, "PartitionKey eq @p", {"p": project})


def check_exact(store, project, admitted, k):
    rows = ledger_rows(store, project)
    state = next(r for r in rows if r["RowKey"] == STATE_ROW)
    open_rows = [r for r in rows if r["RowKey"].startswith("open|")]
    assert len(admitted) == k, (len(admitted), k)
    assert sorted(r["SessionId"] for r in open_rows) == sorted(e.session_id for e in admitted)
    assert [(get(r, "State"), get(r, "Reserved")) for r in open_rows] == [(LedgerState.PENDING.value, COST)] * k
    assert (get(state, "Open"), get(state, "Held")) == (k, k * COST)


@pytest.mark.parametrize("k", [1, 7, 20])
def test_a_budget_for_exactly_k_sessions_admits_exactly_k_across_instances(azurite, table_prefix, k):
    project = f"bud{k}"
    TableStore(azurite.connection_string, table_prefix).put_project(
        policy(project, daily_budget=k * COST, monthly_budget=None, max_concurrent=1000)
    )
    admitted, refused, stores = race(azurite, table_prefix, project)
    check_exact(stores[0], project, admitted, k)
    assert {r.reason for r in refused} == {"budget-exhausted"} and len(refused) == INSTANCES * CLIENTS - k


@pytest.mark.parametrize("k", [1, 7, 20])
def test_max_concurrent_k_admits_exactly_k_across_instances(azurite, table_prefix, k):
    project = f"con{k}"
    TableStore(azurite.connection_string, table_prefix).put_project(
        policy(project, daily_budget=None, monthly_budget=None, max_concurrent=k)
    )
    admitted, refused, stores = race(azurite, table_prefix, project)
    check_exact(stores[0], project, admitted, k)
    assert {r.reason for r in refused} == {"concurrency-limit"}


@pytest.mark.parametrize("k", [1, 7])
def test_a_keys_own_budget_for_exactly_k_admits_exactly_k_across_instances(azurite, table_prefix, k):
    """The intent carries the caller's limits, so a leader on another instance holds it to them."""
    project = f"key{k}"
    TableStore(azurite.connection_string, table_prefix).put_project(
        policy(project, daily_budget=None, monthly_budget=None, max_concurrent=1000)
    )
    limits = CallerLimits(daily_budget=k * COST)
    admitted, refused, stores = race(azurite, table_prefix, project, limits=limits, caller="kiosk")
    check_exact(stores[0], project, admitted, k)
    assert {r.reason for r in refused} == {"budget-exhausted"}
    assert {r.figures.get("limit") for r in refused} == {"caller"}
