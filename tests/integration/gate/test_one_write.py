"""One transaction per admission when the session id is ours (2021-01-01).

The reservation names the session before ARR is asked, so once ARR made it the pending row is
the session's row: the gate answers without waiting for the activation write, which rides the
project's next transaction (or a timer's). Until it lands, every reader treats a pending row
whose session ARR reports as active: the answers, extend, stop (it charges, never releases) and
an Idempotency-Key replay. A crash before it lands leaves a pending row the sweep confirms:
tests/reliability/test_two_processes.py kills a gate mid-burst.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from governor.bootstrap import get_context, set_context
from governor.core.model import LedgerState
from governor.store.keys import STATE_ROW, closed_key
from tests.integration.store.helpers import counting_transactions_store


@pytest.fixture
def counted(gate, azurite, table_prefix):
    store = counting_transactions_store(azurite.connection_string, table_prefix)
    set_context(replace(get_context(), store=store))
    return store


def held_back(store) -> None:
    """No timer writes a deferred activation during the test: only the next write or a flush."""
    store._group.defer_seconds = 600


def test_each_admission_costs_one_ledger_transaction_on_the_request_path(gate, counted):
    held_back(counted)
    key = gate.project(max_concurrent=10)
    ids = []
    for _ in range(5):
        reply = gate.create("alpha", key)
        assert (reply.status, reply.body["state"]) == (202, "active")
        ids.append(reply.body["sessionId"])
    # the first: the state row, the entry and the instance's escrow slice (2 of the 9 slots left:
    # docs/storage.md, Escrow slices); then each reserve with the previous admission's activation,
    # from the slice (its row instead of the state row) and, once it is spent, from the state row
    assert counted.transactions == [3, 3, 3, 3, 3]
    assert [gate.store.get_entry("alpha", sid).state for sid in ids] == [LedgerState.ACTIVE] * 4 + [LedgerState.PENDING]
    gate.settle()
    assert counted.transactions[-1] == 1  # the last activation, alone
    assert all(gate.store.get_entry("alpha", sid).state is LedgerState.ACTIVE for sid in ids)


def test_an_admission_reads_no_ledger_row_unless_its_id_could_already_exist(gate, azurite, table_prefix):
    """A random id cannot name a row, and this instance remembers the totals it last wrote, so an
    admission writes without reading the ledger. An Idempotency-Key's id may have rows (a retry
    racing its first request): those are read before the reservation."""
    store = counting_transactions_store(azurite.connection_string, table_prefix)
    store._group.defer_seconds = 600
    filters: list[dict] = []
    real_query = type(store)._query

    def query(self, table, filter_, parameters=None, *args, **kwargs):
        if table == self.tables.ledger:
            filters.append(dict(parameters or {}))
        return real_query(self, table, filter_, parameters, *args, **kwargs)

    store._query = query.__get__(store)
    set_context(replace(get_context(), store=store))
    key = gate.project(max_concurrent=10)
    gate.create("alpha", key)  # the first admission reads the partition
    filters.clear()
    for _ in range(3):
        assert gate.create("alpha", key).status == 202
    assert filters == []
    assert store.transactions[-3:] == [3, 3, 3]  # and still one transaction each
    sid = gate.create("alpha", key, headers={"Idempotency-Key": "once"}).body["sessionId"]
    # the reservation's own read (with the totals), besides the key's lookup of its first attempt
    assert any({closed_key(sid), STATE_ROW} <= set(params.values()) for params in filters), filters


def test_without_a_next_write_the_timer_writes_the_activation(gate, counted):
    counted._group.defer_seconds = 0.2
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    deadline = time.monotonic() + 10
    while gate.store.get_entry("alpha", sid).state is not LedgerState.ACTIVE:
        assert time.monotonic() < deadline, "the deferred activation was never written"
        time.sleep(0.05)


def pending_created(gate, counted, **headers) -> tuple[str, str]:
    held_back(counted)
    key = gate.project()
    reply = gate.create("alpha", key, headers=headers or None)
    sid = reply.body["sessionId"]
    assert gate.store.get_entry("alpha", sid).state is LedgerState.PENDING  # not written yet
    return key, sid


def test_reads_answer_a_pending_row_whose_session_arr_reports_as_active(gate, counted):
    key, sid = pending_created(gate, counted)
    assert gate.get("alpha", key, sid).body["state"] == "active"
    assert [s["state"] for s in gate.list("alpha", key).body["sessions"]] == ["active"]


def test_extend_of_a_not_yet_activated_session_activates_and_extends_it(gate, counted):
    key, sid = pending_created(gate, counted)
    gate.emulator.advance(10)
    reply = gate.extend("alpha", key, sid, {"maxLeaseTime": 90})
    assert reply.status == 200, reply.body
    entry = gate.store.get_entry("alpha", sid)
    assert entry.state is LedgerState.ACTIVE and entry.lease.total_seconds() == 90 * 60


def test_a_heartbeat_of_a_not_yet_activated_session_activates_it(gate, counted):
    key, sid = pending_created(gate, counted)
    gate.emulator.advance(10)
    reply = gate.heartbeat("alpha", key, sid)
    assert (reply.status, reply.body["state"]) == (200, "active")
    entry = gate.store.get_entry("alpha", sid)
    assert entry.state is LedgerState.ACTIVE and entry.last_heartbeat is not None  # so the sweep governs it


def test_stop_of_a_not_yet_activated_session_charges_it_instead_of_giving_the_money_back(gate, counted):
    key, sid = pending_created(gate, counted)
    gate.emulator.advance(5 + 10 * 60)  # ran ten minutes
    reply = gate.stop("alpha", key, sid)
    assert reply.status == 200, reply.body
    entry = gate.store.get_entry("alpha", sid)
    assert entry.state is LedgerState.CLOSED and entry.charged_minutes == 10 and entry.charged > 0
    assert entry.final_status is not None  # closed with ARR's figures, not released
    gate.settle()  # the deferred activation finds the row closed and writes nothing
    assert gate.store.get_entry("alpha", sid).state is LedgerState.CLOSED


def test_an_idempotent_retry_before_the_activation_is_written_replays_the_session(gate, counted):
    key, sid = pending_created(gate, counted, **{"Idempotency-Key": "retry-1"})
    again = gate.create("alpha", key, headers={"Idempotency-Key": "retry-1"})
    assert (again.status, again.body["sessionId"], again.body.get("replayed")) == (202, sid, True)
    assert again.body["state"] == "active"
    assert len(gate.open_sessions_in_arr()) == 1
