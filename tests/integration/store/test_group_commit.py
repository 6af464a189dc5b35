"""Group commit on Azurite: one project's queued operations go out in one transaction, each
decided in arrival order against the running totals, each answered on its own; a batch that
loses an ETag race is read and decided again as a whole, never half-applied."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from governor.core.model import MICROS, LedgerState, Period, Session, SessionStatus, VmSize, money_text
from governor.core.policy import gate as rules
from governor.service.ports import Refusal
from governor.store import StateConflict, TableStore
from governor.store.base import MAX_BATCH
from governor.store.entities import entity_to_entry, get
from governor.store.keys import OPEN_PREFIX, STATE_ROW
from governor.store.ledger_batch import FIXED_ROWS, Activate, Extend, Release, Reserve
from tests.integration.store.helpers import NOW, admit, counting_transactions_store, entry, policy


@pytest.fixture
def demo(azurite, table_prefix):
    store = counting_transactions_store(azurite.connection_string, table_prefix)
    store.put_project(
        policy(
            allowed_sizes=frozenset({VmSize.STANDARD}),
            max_lease=timedelta(minutes=60),
            hard_max_duration=timedelta(hours=3),
            max_concurrent=4,
            daily_budget=10 * MICROS,
        )
    )
    return store


def gate_request(sid: str, minutes: int, size: VmSize = VmSize.STANDARD):
    """(entry, decide) as the gate builds them: the gate's own admission rule."""
    request = rules.SessionRequest(size, timedelta(minutes=minutes))
    return entry(sid, lease_minutes=minutes), (lambda snapshot: rules.admit(request, snapshot))


def session(sid: str) -> Session:
    return Session(sid, "default", SessionStatus.STARTING, VmSize.STANDARD, timedelta(0), timedelta(minutes=10))


def ledger_rows(store, project="demo") -> tuple[dict, list]:
    table = store._table(store.tables.ledger)
    rows = list(table.query_entities("PartitionKey eq @pk", parameters={"pk": project}))
    state = next(r for r in rows if r["RowKey"] == STATE_ROW)
    return state, [entity_to_entry(r) for r in rows if r["RowKey"].startswith(OPEN_PREFIX)]


def assert_state_matches_rows(store) -> None:
    """The totals are what the open rows add up to: nothing was half-applied."""
    state, entries = ledger_rows(store)
    assert get(state, "Open") == len(entries)
    assert get(state, "Held") == sum(e.reserved for e in entries)


def queue_behind_a_transaction(store, calls):
    """Hold the project's transaction in flight (a reservation whose decision waits), queue
    `calls` in order behind it, let it go: the queued calls ride the next batch together.
    Returns each call's result or exception, in order."""
    gate = threading.Event()
    entered = threading.Event()

    def slow(snapshot):
        entered.set()
        assert gate.wait(10)
        return 1 * MICROS

    blocker = threading.Thread(target=store.reserve, args=("demo", entry("blocker", lease_minutes=10), slow, NOW))
    blocker.start()
    assert entered.wait(10)
    results: list = [None] * len(calls)

    def run(index):
        try:
            results[index] = calls[index]()
        except Exception as exc:
            results[index] = exc

    threads = []
    for index in range(len(calls)):
        threads.append(threading.Thread(target=run, args=(index,)))
        threads[-1].start()
        deadline = time.monotonic() + 10
        while store._group.pending("demo") < index + 1:  # arrival order is the order we queue them
            assert time.monotonic() < deadline, "request did not queue"
            time.sleep(0.001)
    before = len(store.transactions)
    gate.set()
    blocker.join(10)
    for thread in threads:
        thread.join(10)
    return results, store.transactions[before:]


def reason(result) -> str | None:
    return result.reason if isinstance(result, Refusal) else None


def test_a_batch_mixing_admissible_and_refused_requests_answers_each_as_if_one_by_one(demo):
    # The blocker holds 1.00 and one session of 4; the budget is 10.00 (rate 6.00/h: 0.10 a minute).
    plan = [
        ("a", 30, VmSize.STANDARD),  # 3.00: admitted (2 open, 4.00 held)
        ("b", 30, VmSize.PREMIUM),  # size not allowed
        ("c", 120, VmSize.STANDARD),  # longer than the 60-minute max lease
        ("d", 30, VmSize.STANDARD),  # 3.00: admitted (3 open, 7.00 held)
        ("e", 60, VmSize.STANDARD),  # 6.00 > 3.00 left: budget
        ("f", 20, VmSize.STANDARD),  # 2.00: admitted (4 open, 9.00 held)
        ("g", 10, VmSize.STANDARD),  # 1.00 would fit the budget, but 4 of 4 run: concurrency
    ]

    def call(sid, minutes, size):
        pending, decide = gate_request(sid, minutes, size)
        return lambda: demo.reserve("demo", pending, decide, NOW)

    results, transactions = queue_behind_a_transaction(demo, [call(*p) for p in plan])

    by_id = dict(zip((p[0] for p in plan), results, strict=True))
    assert {sid: reason(r) for sid, r in by_id.items()} == {
        "a": None,
        "b": "size-not-allowed",
        "c": "lease-too-long",
        "d": None,
        "e": "budget-exhausted",
        "f": None,
        "g": "concurrency-limit",
    }
    assert by_id["e"].figures["remainingBudget"] == money_text(3 * MICROS)
    assert by_id["e"].figures["cost"] == money_text(6 * MICROS)
    assert by_id["g"].figures == {"activeSessions": 4, "maxConcurrent": 4}
    # each admitted answer carries its own reservation and the running usage after it
    assert [(by_id[s][0].reserved, by_id[s][1][Period.DAY].reserved) for s in "adf"] == [
        (3 * MICROS, 4 * MICROS),
        (3 * MICROS, 7 * MICROS),
        (2 * MICROS, 9 * MICROS),
    ]
    assert all(by_id[s][0].etag for s in "adf")
    assert transactions == [2, 1 + 3]  # the blocker's; then ONE: the state row and the three new rows
    state, entries = ledger_rows(demo)
    assert sorted(e.session_id for e in entries) == ["a", "blocker", "d", "f"]
    assert (get(state, "Open"), get(state, "Held")) == (4, 9 * MICROS)


def test_activations_releases_extensions_and_admissions_share_one_transaction(demo):
    demo.put_project(replace(demo.get_project("demo"), daily_budget=20 * MICROS))
    for sid in ("x", "y", "z"):
        pending, decide = gate_request(sid, 30)
        demo.reserve("demo", pending, decide, NOW)  # 3 x 3.00 held, 3 open
    demo.activate("demo", "z", session("z"))

    def extend_z(current, usage):
        return rules.decide_extension(
            demo.get_project("demo"), current, timedelta(0), usage, timedelta(minutes=40)
        ).lease

    w_entry, w_decide = gate_request("w", 30)
    calls = [
        lambda: demo.activate("demo", "x", session("x")),
        lambda: demo.release("demo", "y", NOW),  # gives 3.00 back and a session slot
        lambda: demo.extend("demo", "z", extend_z, NOW),  # +1.00
        lambda: demo.reserve("demo", w_entry, w_decide, NOW),  # fits only because y was released
        lambda: demo.activate("demo", "y", session("y")),  # released just before: refused
    ]
    # blocker: 1.00 and a 4th session; then y's release frees one, so w is the 4th again
    results, transactions = queue_behind_a_transaction(demo, calls)

    activated, released, (extended, _), (reserved, usage), refused = results
    assert activated.state is LedgerState.ACTIVE and released is None
    assert extended.lease == timedelta(minutes=40) and extended.reserved == 4 * MICROS
    assert (
        reserved.session_id == "w" and usage[Period.DAY].reserved == 1 * MICROS + 3 * MICROS + 4 * MICROS + 3 * MICROS
    )
    assert isinstance(refused, StateConflict)
    assert transactions == [2, 6]  # the blocker's; then state, x, y and its closed row, z, w in ONE
    _, entries = ledger_rows(demo)
    assert {e.session_id: e.state for e in entries} == {
        "blocker": LedgerState.PENDING,
        "x": LedgerState.ACTIVE,
        "z": LedgerState.ACTIVE,
        "w": LedgerState.PENDING,
    }
    assert demo.get_entry("demo", "y").state is LedgerState.CLOSED
    assert_state_matches_rows(demo)


def test_a_batch_that_loses_an_etag_race_is_read_and_decided_again_never_half_applied(demo, azurite, table_prefix):
    other = TableStore(azurite.connection_string, table_prefix)  # another instance
    calls = {"a": 0, "b": 0, "c": 0}

    def op(sid):
        pending, decide = gate_request(sid, 30)

        def counted(snapshot):
            calls[sid] += 1
            if sid == "a" and calls[sid] == 1:
                # while this batch decides, the other instance admits 3.00 of the 10.00
                taken, decide_other = gate_request("other", 30)
                other.reserve("demo", taken, decide_other, NOW)
            return decide(snapshot)

        return Reserve(pending, counted, NOW)

    outcomes = demo._run_batch("demo", [op("a"), op("b"), op("c")])

    assert calls == {"a": 2, "b": 2, "c": 2}  # the whole batch was decided again
    assert [o.error is None for o in outcomes] == [True, True, False]
    assert outcomes[2].error.reason == "budget-exhausted"
    assert outcomes[2].error.figures["remainingBudget"] == money_text(1 * MICROS)
    assert demo.transactions == [4, 3]  # the attempt that lost (state, a, b, c), then the retry (state, a, b)
    _, entries = ledger_rows(demo)
    assert sorted(e.session_id for e in entries) == ["a", "b", "other"]
    assert_state_matches_rows(demo)


def test_a_batch_wider_than_one_transaction_is_split_in_arrival_order(demo):
    demo.put_project(policy(max_concurrent=500, daily_budget=None, monthly_budget=None))
    count = 120
    results, transactions = queue_behind_a_transaction(
        demo,
        [
            (lambda sid=f"s{i:03d}": demo.reserve("demo", entry(sid, lease_minutes=1), lambda s: 100_000, NOW))
            for i in range(count)
        ],
    )
    assert all(not isinstance(r, Exception) for r in results)
    full = MAX_BATCH - FIXED_ROWS  # entries beside the state row, the usage rows and slices taken back
    batches = [1 + min(full, count - start) for start in range(0, count, full)]
    assert transactions == [2, *batches]  # the blocker, then full-size batches in order
    assert_state_matches_rows(demo)
    _, entries = ledger_rows(demo)
    assert len(entries) == count + 1


def test_a_read_with_more_rows_than_one_filter_allows_is_split(demo):
    """Table Storage allows 15 comparisons per filter: a big batch reads in several queries."""
    queries = []
    original = demo._query

    def counting(table, filter_, parameters=None, **kw):
        queries.append(filter_.count(" eq "))
        return original(table, filter_, parameters, **kw)

    demo._query = counting
    ops = [Reserve(entry(f"q{i}", lease_minutes=1), admit(0), NOW, demo.get_project("demo")) for i in range(10)]
    outcomes = demo._run_batch("demo", ops)
    assert [o.error for o in outcomes][:4] == [None] * 4
    assert queries and max(queries) <= 15 and len(queries) >= 2
    refused = [o.error.reason for o in outcomes if o.error is not None]
    assert refused == ["concurrency-limit"] * 6  # max 4 sessions: exactly as one by one


def test_extend_and_release_of_unknown_or_closed_entries_answer_their_own_errors(demo):
    from governor.store import NotFound

    outcomes = demo._run_batch(
        "demo",
        [
            Extend("demo", "ghost", lambda e, u: timedelta(minutes=90), NOW),
            Release("demo", "ghost", NOW),
            Activate("demo", "ghost", "ghost"),
            Reserve(entry("real", lease_minutes=10), lambda s: 1 * MICROS, NOW),
        ],
    )
    assert isinstance(outcomes[0].error, NotFound)
    assert outcomes[1].error is None and outcomes[1].value is None  # releasing nothing is idempotent
    assert isinstance(outcomes[2].error, NotFound)
    assert outcomes[3].error is None
    assert demo.transactions == [2]
    assert_state_matches_rows(demo)


def test_a_callers_figures_run_on_through_a_batch_like_the_projects(demo):
    """Per-key limits in the same transaction: each request sees the key's sessions and
    reservations as the requests before it in the batch left them."""
    demo.put_project(replace(demo.get_project("demo"), daily_budget=None, monthly_budget=None))
    seen = []

    def key_allows_two(snapshot):
        seen.append((snapshot.caller.active, snapshot.caller.reserved))
        if snapshot.caller.active >= 2:
            raise Refusal("concurrency-limit", "the key runs 2 of 2", {"caller": snapshot.caller.name})
        return 1 * MICROS

    def op(sid, caller):
        return Reserve(replace(entry(sid, lease_minutes=10), caller=caller), key_allows_two, NOW, count_caller=True)

    outcomes = demo._run_batch("demo", [op("k1", "kiosk"), op("o1", "other"), op("k2", "kiosk"), op("k3", "kiosk")])
    assert [o.error is None for o in outcomes] == [True, True, True, False]
    assert outcomes[3].error.figures == {"caller": "kiosk"}
    assert seen == [(0, 0), (0, 0), (1, 1 * MICROS), (2, 2 * MICROS)]
    assert demo.transactions == [1 + 3]


def test_a_deferred_activation_of_a_row_closed_meanwhile_writes_nothing_and_warns_nothing(demo, caplog):
    """A poll can settle an attempt (close its row) before the activation that rode behind the
    answer is written: that activation has nothing left to do, so it is no failure. One that waits
    for its answer still hears the conflict."""
    demo._group.defer_seconds = 600  # held back until the flush below
    pending, decide = gate_request("late", 10)
    demo.reserve("demo", pending, decide, NOW, fresh=True)
    demo.activate("demo", "late", session("late"), wait=False)
    closed = demo.close("demo", "late", 3, SessionStatus.ERROR.value, NOW)
    assert closed.state is LedgerState.CLOSED
    with caplog.at_level("WARNING", logger="governor.store"):
        demo.flush()
    assert [r for r in caplog.records if "deferred" in r.getMessage()] == []
    assert demo.get_entry("demo", "late").state is LedgerState.CLOSED
    assert_state_matches_rows(demo)
    with pytest.raises(StateConflict):
        demo.activate("demo", "late", session("late"))
