"""An admission decides by a policy at most PROJECT_ROW_SECONDS old, however long its transaction
takes: a round that runs again after an ETag race reads the policy again when its request's copy
is older. Against Azurite; instance A's first transaction is held up (as under a burst's latency)
while an operator lowers the project's limit and another instance moves the state row."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from datetime import timedelta

import pytest

from governor.core.model import LedgerEntry, LedgerState, Period, VmSize, cost_of
from governor.core.policy import gate as rules
from governor.service.ports import Refusal
from governor.store import TableStore
from tests.integration.store.helpers import NOW, RATE, policy

REQUEST = rules.SessionRequest(VmSize.STANDARD, timedelta(minutes=30))
COST = cost_of(RATE, 30)
HELD_UP = 3.0  # seconds: past PROJECT_ROW_SECONDS (2)


def reserve(store: TableStore, project_policy) -> str:
    sid = str(uuid.uuid4())
    entry = LedgerEntry("demo", sid, "default", VmSize.STANDARD, LedgerState.PENDING, NOW, REQUEST.lease, rate=RATE)
    store.reserve("demo", entry, functools.partial(rules.admit, REQUEST), NOW, policy=project_policy, fresh=True)
    return sid


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (dict(max_concurrent=6), dict(max_concurrent=3)),
        (dict(max_concurrent=100, daily_budget=6 * COST), dict(max_concurrent=100, daily_budget=3 * COST)),
    ],
    ids=["maxConcurrent", "daily-budget"],
)
def test_a_limit_lowered_while_an_admission_retries_holds(azurite, table_prefix, before, after):
    admin, a, b = (TableStore(azurite.connection_string, table_prefix) for _ in range(3))
    unbounded = dict(daily_budget=None, monthly_budget=None)
    admin.put_project(policy(**{**unbounded, **before}))
    running = [reserve(b, b.get_project("demo")) for _ in range(3)]
    asked = a.get_project("demo", max_age=2.0)  # A's request authenticates under the old limit
    submit, first = a._submit, [True]

    def held_up(table, ops):  # A's first ledger write is slow; the round then loses its ETag
        if table == a.tables.ledger and first:
            first.clear()
            time.sleep(HELD_UP)
        return submit(table, ops)

    a._submit = held_up
    admitted: dict = {}

    def request() -> None:
        try:
            admitted["sid"] = reserve(a, asked)
        except Refusal as refusal:
            admitted["refused"] = refusal.reason

    thread = threading.Thread(target=request)
    thread.start()
    time.sleep(0.3)
    lowered = policy(**{**unbounded, **after})
    admin.put_project(lowered)  # the limit now equals what runs
    with pytest.raises(Refusal):
        reserve(b, b.get_project("demo"))
    b.meter("demo", running[0], 1, NOW)  # the sweep meters: the state row moves under A
    thread.join()
    assert "refused" in admitted, admitted
    open_now = admin.snapshot(NOW).open_entries
    assert len(open_now) <= lowered.max_concurrent
    usage = admin.usage("demo", Period.DAY, Period.DAY.key(NOW))
    assert lowered.daily_budget is None or usage.spent + usage.reserved <= lowered.daily_budget
