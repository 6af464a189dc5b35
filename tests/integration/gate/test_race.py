"""50 parallel creates where the budget admits exactly 7: exactly 7 run, none over-commits."""

from concurrent.futures import ThreadPoolExecutor

from governor.core.model import MICROS, LedgerState, Period, utcnow

PARALLEL = 50
ADMITTED = 7


def test_fifty_parallel_requests_admit_exactly_what_the_budget_pays_for(gate):
    # 30 minutes at 6/h cost 3; a budget of 7 x 3 + 2 admits exactly 7
    key = gate.project(daily_budget=(ADMITTED * 3 + 2) * MICROS, max_concurrent=PARALLEL)
    body = {"size": "Standard", "maxLeaseTime": 30}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        replies = list(pool.map(lambda _: gate.create("alpha", key, body), range(PARALLEL)))

    admitted = [r for r in replies if r.status == 202]
    refused = [r for r in replies if r.status != 202]
    assert len(admitted) == ADMITTED, sorted({(r.status, r.reason) for r in refused})
    assert {r.reason for r in refused} <= {"budget-exhausted", "concurrency-limit"}

    ids = {r.body["sessionId"] for r in admitted}
    gate.settle()
    assert {s["id"] for s in gate.open_sessions_in_arr()} == ids
    entries = gate.store.list_entries("alpha", include_closed=True)
    assert {e.session_id for e in entries} == ids and all(e.state is LedgerState.ACTIVE for e in entries)
    usage = gate.store.usage("alpha", Period.DAY, Period.DAY.key(utcnow()))
    assert usage.reserved == ADMITTED * 3 * MICROS
    assert usage.remaining == 2 * MICROS
